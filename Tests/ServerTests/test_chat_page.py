"""The chat page that `ember serve` gives a browser at `/`, driven in headless Chromium by Selenium.

Starts two servers with the default model: a main one, and a small one with an API key that is
stopped midway to play a server that went away. Checks that the page shows the model's name and
context size; that a reply streams (its text grows while its state is `streaming`), renders its
Markdown (a fenced code block) and ends `done` with its token count (the server's own count) and
tokens/s; that Stop ends a long reply mid-stream (the text stops growing, the server stops
generating and answers the next message); that the conversation and the settings survive a reload
and that the settings are sent (temperature 0 answers the same twice, the system prompt reaches the
prompt); that 401 and an unreachable server show inline errors; and that the Markdown renderer lets
no HTML through. Saves a screenshot of a conversation to .build/screenshots/chat-page.png.

Needs Debian's `chromium` and `chromium-driver` and the `selenium` package:

    python3 Tests/ServerTests/test_chat_page.py .build/release/ember
"""
import os
import re
import shutil
import sys
import time
import unittest

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import ember_server

EMBER = sys.argv.pop(1) if len(sys.argv) > 1 else ".build/release/ember"
KEY = "page-key"
SCREENSHOT = os.path.join(".build", "screenshots", "chat-page.png")
LONG_SYSTEM_PROMPT = "You are a pirate captain. Answer every question like a pirate would, with pirate words. " * 6


def setUpModule():
    global main, locked, driver
    chromium, chromedriver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and chromedriver):
        raise RuntimeError("test_chat_page needs Debian's chromium and chromium-driver: "
                           "apt-get install chromium chromium-driver")
    main = ember_server.Server(EMBER, "-c", "1024", "-t", "2")
    locked = ember_server.Server(EMBER, "-c", "512", "-t", "1", "--parallel", "1", "--api-key", KEY)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1200,1500"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)


def tearDownModule():
    driver.quit()
    main.stop()
    if locked.process.poll() is None:
        locked.stop()


def js(script, *arguments):
    return driver.execute_script(script, *arguments)


def wait_for(condition, message, timeout=30):
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(lambda _: condition(), message)


def open_page(server):
    """The page at `server`'s `/` with nothing stored, once it has read /props."""
    driver.get(server.url + "/")
    js("localStorage.clear()")
    driver.get(server.url + "/")
    wait_for(lambda: driver.find_element(By.ID, "model-name").text != "…", "the page never read /props", timeout=10)


def replies():
    return js("""return [...document.querySelectorAll('.message.assistant')].map(e => ({
        state: e.dataset.state, text: e.querySelector('.content').textContent,
        html: e.querySelector('.content').innerHTML,
        stats: (e.querySelector('.stats') || {}).textContent || '',
        error: (e.querySelector('.error') || {}).textContent || ''}))""")


def conversation():
    return js("""return [...document.querySelectorAll('.message')].map(e => [e.className, e.dataset.state || '',
        e.textContent])""")


def send(text):
    """Types `text` and presses Enter; returns the new reply's index once it exists."""
    count = len(replies())
    driver.find_element(By.ID, "input").send_keys(text, Keys.ENTER)
    wait_for(lambda: len(replies()) == count + 1, "Enter did not send the message")
    return count


def finished(index, timeout=60, message="the reply never finished"):
    wait_for(lambda: replies()[index]["state"] != "streaming", message, timeout)
    return replies()[index]


def set_settings(**values):
    """Types into the settings fields (system-prompt, temperature, max-tokens, api-key)."""
    settings = driver.find_element(By.ID, "settings")
    if not settings.get_attribute("open"):
        driver.find_element(By.ID, "settings-toggle").click()
    for name, value in values.items():
        field = driver.find_element(By.ID, name.replace("_", "-"))
        field.clear()
        field.send_keys(str(value))
    driver.find_element(By.ID, "settings-toggle").click()


def setting(name):
    return driver.find_element(By.ID, name).get_attribute("value")


def statistics(reply):
    """(tokens, tokens/s, prompt tokens or None) from a reply's stats line."""
    tokens = re.search(r"(\d+) tokens\b(?!/)", reply["stats"])
    speed = re.search(r"([\d.]+) tokens/s", reply["stats"])
    context = re.search(r"(\d+) / (\d+) context", reply["stats"])
    if not (tokens and speed):
        raise AssertionError(f"no token count or tokens/s under the reply: {reply['stats']!r}")
    prompt = int(context.group(1)) - int(tokens.group(1)) if context else None
    return int(tokens.group(1)), float(speed.group(1)), prompt


class ChatPage(unittest.TestCase):
    def test_header_shows_the_model_and_enter_sends_but_shift_enter_adds_a_line(self):
        open_page(main)
        self.assertEqual(driver.find_element(By.ID, "model-name").text, "smollm2")
        self.assertEqual(driver.find_element(By.ID, "context-size").text, "1024")
        field = driver.find_element(By.ID, "input")
        field.send_keys("first line")
        ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        field.send_keys("second line")
        self.assertEqual(field.get_attribute("value"), "first line\nsecond line")
        self.assertEqual(replies(), [])

    def test_replies_stream_stop_and_survive_a_reload(self):
        open_page(main)
        set_settings(temperature=0, max_tokens=200)
        generated = main.metric("ember_generated_tokens_total")
        index = send("Write a Python function that adds two numbers.")
        lengths = set()
        while (reply := replies()[index])["state"] == "streaming":
            if reply["text"]:
                lengths.add(len(reply["text"]))
            time.sleep(0.05)
        self.assertEqual(reply["state"], "done", reply["error"])
        self.assertGreaterEqual(len(lengths), 2, "the reply did not grow while it streamed")
        self.assertLess(min(lengths), len(reply["text"]))
        tokens, speed, _ = statistics(reply)
        self.assertEqual(tokens, main.metric("ember_generated_tokens_total") - generated)
        self.assertLessEqual(tokens, 200)
        self.assertGreater(speed, 0)
        self.assertIn('<div class="code">', reply["html"], "the model's fenced code was not rendered as code")
        self.assertEqual(js("return document.querySelector('.code .lang').textContent"), "python")
        self.assertIn("def ", js("return document.querySelector('.code code').textContent"))

        set_settings(max_tokens=900)
        generated = main.metric("ember_generated_tokens_total")
        index = send("Tell me a very long story about a dragon and a knight.")
        wait_for(lambda: len(replies()[index]["text"]) > 80, "the long reply did not start")
        driver.find_element(By.ID, "stop").click()
        stopped = finished(index, timeout=5, message="Stop did not end the reply")
        self.assertEqual(stopped["state"], "stopped")
        self.assertIn("stopped", stopped["stats"])
        wait_for(lambda: main.metric("ember_active_sequences") == 0, "the server kept generating", timeout=5)
        total = main.metric("ember_generated_tokens_total")
        time.sleep(0.5)
        self.assertEqual(main.metric("ember_generated_tokens_total"), total, "the server kept generating")
        self.assertLess(total - generated, 800, "the reply was not stopped mid-stream")
        self.assertEqual(replies()[index]["text"], stopped["text"], "the stopped reply kept growing")
        self.assertTrue(driver.find_element(By.ID, "send").is_displayed())

        set_settings(max_tokens=30)
        index = send("What is the capital of France?")
        answer = finished(index)
        self.assertEqual(answer["state"], "done", answer["error"])
        self.assertTrue(answer["text"].strip())

        before = conversation()
        self.assertEqual([state for _, state, _ in before], ["", "done", "", "stopped", "", "done"])
        driver.refresh()
        wait_for(lambda: driver.find_element(By.ID, "model-name").text == "smollm2", "no /props after reload")
        self.assertEqual(conversation(), before)
        os.makedirs(os.path.dirname(SCREENSHOT), exist_ok=True)
        js("document.getElementById('messages').scrollTop = 0")
        driver.save_screenshot(SCREENSHOT)
        print(f"\nscreenshot of the chat page: {os.path.abspath(SCREENSHOT)}", file=sys.stderr)

        driver.find_element(By.ID, "new-chat").click()
        self.assertEqual(conversation(), [])
        driver.refresh()
        self.assertEqual(conversation(), [])

    def test_settings_persist_and_are_sent(self):
        open_page(main)
        set_settings(max_tokens=40)
        index = send("Say hello.")
        default = finished(index)
        self.assertEqual(default["state"], "done", default["error"])
        _, _, default_prompt = statistics(default)

        set_settings(system_prompt=LONG_SYSTEM_PROMPT.strip(), temperature=0, max_tokens=40)
        driver.refresh()
        self.assertEqual(setting("system-prompt"), LONG_SYSTEM_PROMPT.strip())
        self.assertEqual(setting("temperature"), "0")
        self.assertEqual(setting("max-tokens"), "40")

        answers = []
        for _ in range(2):
            driver.find_element(By.ID, "new-chat").click()
            answers.append(finished(send("Say hello.")))
        self.assertEqual([a["state"] for a in answers], ["done", "done"])
        self.assertEqual(answers[0]["text"], answers[1]["text"], "temperature 0 answered differently")
        tokens, _, prompt = statistics(answers[0])
        self.assertLessEqual(tokens, 40)
        self.assertGreater(prompt, default_prompt + 60, "the system prompt did not reach the model")

    def test_errors_show_inline(self):
        open_page(locked)
        self.assertEqual(driver.find_element(By.ID, "context-size").text, "512")
        refused = finished(send("Hello"))
        self.assertEqual(refused["state"], "error")
        self.assertIn("401", refused["error"])
        self.assertIn("API key", refused["error"])

        set_settings(api_key=KEY, max_tokens=8)
        answered = finished(send("Hello"))
        self.assertEqual(answered["state"], "done", answered["error"])
        self.assertTrue(answered["text"].strip())

        locked.stop()
        unreachable = finished(send("Are you there?"))
        self.assertEqual(unreachable["state"], "error")
        self.assertIn("Could not reach the server", unreachable["error"])
        self.assertEqual(len(driver.find_elements(By.CSS_SELECTOR, ".error")), 2)

    def test_markdown_lets_no_html_through(self):
        open_page(main)
        evil = ('<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script>\n'
                '[click](javascript:window.pwned=3) [site](https://example.com/a_b?x=1&y=2)\n'
                '**bold** *italic* `<b>code</b>`\n\n- one\n- two\n\n1. first\n2. second\n\n## Title\n\n'
                '```html\n<script>window.pwned=4</script>\n```')
        rendered = js("""const box = document.createElement('div');
            box.innerHTML = renderMarkdown(arguments[0]);
            document.body.append(box);
            const found = {
                elements: [...box.querySelectorAll('*')].map(e => e.tagName.toLowerCase()),
                links: [...box.querySelectorAll('a')].map(a => a.getAttribute('href')),
                code: [...box.querySelectorAll('code')].map(c => c.textContent),
                language: box.querySelector('.code .lang').textContent};
            box.remove();
            return found;""", evil)
        time.sleep(0.2)
        self.assertIsNone(js("return window.pwned"))
        self.assertNotIn("img", rendered["elements"])
        self.assertNotIn("script", rendered["elements"])
        self.assertEqual(rendered["links"], ["https://example.com/a_b?x=1&y=2"])
        for tag in ("strong", "em", "ul", "ol", "h2", "pre"):
            self.assertIn(tag, rendered["elements"])
        self.assertEqual(rendered["code"], ["<b>code</b>", "<script>window.pwned=4</script>"])
        self.assertEqual(rendered["language"], "html")


if __name__ == "__main__":
    unittest.main(verbosity=2)
