"""`ember serve`'s Ollama API driven by the official `ollama` Python client, as Ollama apps use it.

Starts two servers on free loopback ports with the default model: a main one (2 slots, an API key,
a 1024-token context) and a small one (1 slot, a 512-token context, --strict-model-name, its own
empty EMBER_HOME) for unknown model names and pulls. Checks /api/chat and /api/generate whole and
streamed (the stream's text is the whole text; the last line is done, says why and counts), their
NDJSON framing, a generate `context` sent back continuing exactly where it stopped, raw prompts, the
system prompt, Ollama's options (num_predict, stop, seed, num_ctx; runtime-only ones accepted; the
ones Ember cannot apply refused), `format` json and a JSON schema, tools, /api/tags, /api/show,
/api/ps and /api/version, /api/pull with its progress from a local HTTP server (and its errors),
every kind of refused request, and a client that disconnects mid-stream (its slot is free at once).

    python3 Tests/ServerTests/test_ollama_client.py .build/release/ember
"""
import datetime
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import jsonschema
import ollama

import ember_server

EMBER = sys.argv.pop(1) if len(sys.argv) > 1 else ".build/release/ember"
KEY = "test-key"
PULLED = "smollm2-copy.gguf"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}
GREEDY = {"temperature": 0, "seed": 1}


class FileServer:
    """The cached model file over HTTP as /smollm2-copy.gguf, a MiB at a time with a pause between (so
    a pull reports progress several times); no ranges, so Ember's downloader takes it in one GET."""

    def __init__(self, path):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path != "/" + PULLED:
                    return self.send_error(404)
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(os.path.getsize(path)))
                self.end_headers()
                with open(path, "rb") as file:
                    while piece := file.read(1 << 20):
                        self.wfile.write(piece)
                        time.sleep(0.01)

            def log_message(self, *_):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def setUpModule():
    global main, small, home, files, model_file
    model_file = subprocess.run([EMBER, "pull", "smollm2", "--quiet"], capture_output=True, text=True, check=True).stdout.strip()
    home = tempfile.mkdtemp(prefix="ember-ollama-test-")
    main = ember_server.Server(EMBER, "--parallel", "2", "--api-key", KEY, "-c", "1024", "-t", "2", key=KEY)
    small = ember_server.Server(EMBER, "-m", model_file, "--alias", "smollm2", "--strict-model-name", "-c", "512",
                                "--parallel", "1", "-t", "2", env={"EMBER_HOME": home})
    files = FileServer(model_file)


def tearDownModule():
    for each in clients.values():
        each.close()
    main.stop()
    small.stop()
    files.stop()
    shutil.rmtree(home, ignore_errors=True)


clients = {}


def client(server=None, key=KEY):
    """An `ollama` client of the server (main by default) sending `key`, or no key."""
    url = (server or main).url
    if (url, key) not in clients:
        clients[url, key] = ollama.Client(host=url, headers={"Authorization": f"Bearer {key}"} if key else {})
    return clients[url, key]


def chat(content, stream=False, **options):
    return client().chat(model="smollm2", messages=[{"role": "user", "content": content}], options={**GREEDY, **options},
                         stream=stream)


def generate(prompt, **arguments):
    arguments["options"] = {**GREEDY, **arguments.get("options", {})}
    return client().generate(model="smollm2", prompt=prompt, **arguments)


def post(server, route, body, key=KEY):
    """A raw request: the status, the Content-Type and the body's lines."""
    request = urllib.request.Request(server.url + route, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers["Content-Type"], response.read().decode().splitlines(keepends=True)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers["Content-Type"], error.read().decode().splitlines(keepends=True)


class Generation(unittest.TestCase):
    def check_final(self, last, reason=None):
        self.assertTrue(last.done)
        self.assertIn(last.done_reason, (reason,) if reason else ("stop", "length"))
        self.assertGreater(last.prompt_eval_count, 0)
        self.assertGreater(last.eval_count, 0)
        self.assertGreater(last.eval_duration, 0)
        self.assertGreater(last.prompt_eval_duration, 0)
        self.assertGreaterEqual(last.total_duration, last.eval_duration)
        self.assertIsNotNone(last.load_duration)
        self.assertEqual(last.model, "smollm2")
        datetime.datetime.fromisoformat(last.created_at.replace("Z", "+00:00"))

    def test_chat_whole_and_streamed(self):
        whole = chat("What is the capital of France?", num_predict=24)
        self.check_final(whole)
        self.assertEqual(whole.message.role, "assistant")
        self.assertIn("Paris", whole.message.content)
        self.assertIsNone(whole.message.tool_calls)
        chunks = list(chat("What is the capital of France?", stream=True, num_predict=24))
        self.assertGreater(len(chunks), 3)
        self.assertTrue(all(not c.done and c.eval_count is None for c in chunks[:-1]))
        self.assertTrue(all(c.message.role == "assistant" for c in chunks))
        self.check_final(chunks[-1])
        self.assertEqual("".join(c.message.content for c in chunks), whole.message.content)
        self.assertEqual((chunks[-1].eval_count, chunks[-1].prompt_eval_count, chunks[-1].done_reason),
                         (whole.eval_count, whole.prompt_eval_count, whole.done_reason))

    def test_chat_with_no_tools(self):
        # The client sends "tools": [] with every chat: no tools, as for Ollama.
        status, _, lines = post(main, "/api/chat", {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}],
                                                    "tools": [], "stream": False, "options": {"num_predict": 2}})
        self.assertEqual(status, 200, lines)

    def test_generate_whole_and_streamed(self):
        whole = generate("Why is the sky blue?", options={"num_predict": 12})
        self.check_final(whole, "length")
        self.assertEqual(whole.eval_count, 12)
        self.assertTrue(whole.response)
        chunks = list(generate("Why is the sky blue?", options={"num_predict": 12}, stream=True))
        self.assertGreater(len(chunks), 3)
        self.assertTrue(all(not c.done for c in chunks[:-1]))
        self.check_final(chunks[-1], "length")
        self.assertEqual("".join(c.response for c in chunks), whole.response)
        self.assertEqual(chunks[-1].context, whole.context)
        # The context is the prompt's tokens and the reply's.
        self.assertEqual(len(whole.context), whole.prompt_eval_count + whole.eval_count)

    def test_raw_generate_and_its_context_continue_where_it_stopped(self):
        options = {"repeat_penalty": 1}
        six = generate("The capital of France is", raw=True, options={**options, "num_predict": 6})
        self.assertTrue(six.response.startswith(" Paris"))
        self.assertEqual(six.prompt_eval_count, 5)  # no template, no special tokens around the prompt
        three = generate("The capital of France is", raw=True, options={**options, "num_predict": 3})
        self.assertEqual(three.done_reason, "length")
        self.assertEqual(len(three.context), 5 + 3)
        self.assertEqual(six.context[:8], three.context)
        more = generate("", raw=True, context=three.context, options={**options, "num_predict": 3})
        self.assertEqual(more.prompt_eval_count, 8)
        self.assertEqual(three.response + more.response, six.response)
        self.assertEqual(more.context, six.context)

    def test_context_carries_the_conversation(self):
        first = generate("My name is Ada.", options={"num_predict": 8})
        second = generate("What is my name?", context=first.context, options={"num_predict": 8})
        alone = generate("What is my name?", options={"num_predict": 8})
        self.assertEqual(second.prompt_eval_count, len(first.context) + alone.prompt_eval_count)
        self.assertEqual(second.context[:len(first.context)], first.context)

    def test_system_prompt_reaches_the_model(self):
        question = "Who are you?"
        system = "You are Captain Hook, a pirate who answers every question in pirate speech. " * 3
        default = generate(question, options={"num_predict": 2})
        told = generate(question, system=system, options={"num_predict": 2})
        self.assertGreater(told.prompt_eval_count, default.prompt_eval_count + 20)
        # The same prompt as a chat with a system message, and without.
        as_chat = client().chat(model="smollm2", messages=[{"role": "system", "content": system}, {"role": "user", "content": question}],
                                options={"num_predict": 2})
        self.assertEqual(as_chat.prompt_eval_count, told.prompt_eval_count)
        self.assertEqual(chat(question, num_predict=2).prompt_eval_count, default.prompt_eval_count)
        # raw leaves no room for a system prompt
        with self.assertRaises(ollama.ResponseError) as caught:
            generate(question, raw=True, system=system)
        self.assertEqual(caught.exception.status_code, 400)

    def test_empty_request_loads_the_model(self):
        loaded = client().generate(model="smollm2", prompt="")
        self.assertEqual((loaded.done, loaded.done_reason, loaded.response), (True, "load", ""))
        loaded = client().chat(model="smollm2", messages=[])
        self.assertEqual((loaded.done, loaded.done_reason, loaded.message.content), (True, "load", ""))

    def test_ndjson_framing(self):
        body = {"model": "smollm2", "prompt": "The capital of France is", "raw": True, "options": {"temperature": 0, "num_predict": 4}}
        status, kind, lines = post(main, "/api/generate", body)
        self.assertEqual((status, kind), (200, "application/x-ndjson"))
        self.assertTrue(all(line.endswith("\n") for line in lines))
        objects = [json.loads(line) for line in lines]
        self.assertEqual([o["done"] for o in objects], [False] * (len(objects) - 1) + [True])
        for o in objects[:-1]:
            self.assertEqual(set(o), {"model", "created_at", "response", "done"})
        self.assertLessEqual({"done_reason", "total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
                              "eval_count", "eval_duration", "context"}, set(objects[-1]))
        status, kind, lines = post(main, "/api/chat", {"model": "smollm2", "messages": [{"role": "user", "content": "Hi"}],
                                                       "stream": False, "options": {"num_predict": 4}})
        self.assertEqual((status, kind, len(lines)), (200, "application/json", 1))
        whole = json.loads(lines[0])
        self.assertEqual((whole["done"], whole["message"]["role"], whole["eval_count"]), (True, "assistant", 4))
        self.assertNotIn("context", whole)

    def test_disconnected_client_frees_its_slot(self):
        port = int(main.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/api/chat", headers={"Authorization": f"Bearer {KEY}"},
                           body=json.dumps({"model": "smollm2", "messages": [{"role": "user", "content": "Write a long story."}],
                                            "options": {"num_predict": 1000}}))
        response = connection.getresponse()
        for _ in range(6):
            self.assertFalse(json.loads(response.readline())["done"])
        self.assertEqual(main.metric("ember_active_sequences"), 1)
        connection.close()  # mid-stream
        self.assertEqual(main.wait_idle(), 0)
        self.assertIn("Paris", chat("What is the capital of France?", num_predict=16).message.content)


class Options(unittest.TestCase):
    def test_num_predict_limits_the_reply(self):
        reply = chat("Tell me a long story.", num_predict=5)
        self.assertEqual((reply.eval_count, reply.done_reason), (5, "length"))
        for unlimited in (-1, -2):
            self.assertEqual(chat("Say hi.", num_predict=unlimited).done_reason, "stop")

    def test_stop_strings_end_the_text(self):
        counting = chat("Count from 1 to 10, separated by commas.", num_predict=40, repeat_penalty=1)
        self.assertIn("5", counting.message.content)
        stopped = chat("Count from 1 to 10, separated by commas.", num_predict=40, repeat_penalty=1, stop=["5"])
        self.assertEqual(stopped.done_reason, "stop")
        self.assertNotIn("5", stopped.message.content)
        self.assertTrue(counting.message.content.startswith(stopped.message.content))
        self.assertLess(stopped.eval_count, counting.eval_count)

    def test_seed_makes_sampling_reproducible(self):
        def story(seed):
            return chat("Tell me a story.", temperature=1.0, seed=seed, num_predict=16).message.content
        first, again, other = story(7), story(7), story(8)
        self.assertEqual(first, again)
        self.assertNotEqual(first, other)

    def test_num_ctx_limits_the_request(self):
        # 5 prompt tokens in a context of 8 leave room for 3.
        limited = generate("The capital of France is", raw=True, options={"num_ctx": 8})
        self.assertEqual((limited.eval_count, limited.done_reason), (3, "length"))
        with self.assertRaises(ollama.ResponseError) as caught:
            chat("Tell me about the history of France. " * 4, num_ctx=16)
        self.assertEqual(caught.exception.status_code, 400)
        self.assertIn("num_ctx", caught.exception.error)

    def test_sampling_and_runtime_options_are_accepted(self):
        reply = chat("Hi", num_predict=3, top_k=20, top_p=0.9, min_p=0.05, repeat_penalty=1.2, repeat_last_n=32,
                     presence_penalty=0.5, frequency_penalty=0.5, typical_p=1.0, tfs_z=1.0, mirostat=0,
                     num_thread=2, num_gpu=0, num_batch=64, use_mmap=True, num_keep=4, main_gpu=0, low_vram=False)
        self.assertEqual(reply.eval_count, 3)
        reply = client().chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}],
                              options=ollama.Options(num_predict=3, temperature=0.5, stop=["\n\n"]))
        self.assertEqual(reply.eval_count, 3)

    def test_options_ember_cannot_apply_are_400(self):
        for options, name in [({"bogus": 1}, "options.bogus"), ({"mirostat": 1}, "options.mirostat"),
                              ({"typical_p": 0.5}, "options.typical_p"), ({"tfs_z": 0.9}, "options.tfs_z"),
                              ({"num_predict": 0}, "options.num_predict"), ({"temperature": "hot"}, "options.temperature")]:
            with self.subTest(options=options), self.assertRaises(ollama.ResponseError) as caught:
                chat("Hi", **options)
            self.assertEqual(caught.exception.status_code, 400)
            self.assertIn(name, caught.exception.error)


class Formats(unittest.TestCase):
    def test_format_json(self):
        reply = client().chat(model="smollm2", messages=[{"role": "user", "content": "Describe a cat as JSON with its name and age."}],
                              format="json", options={**GREEDY, "num_predict": 80})
        self.assertEqual(reply.done_reason, "stop")
        self.assertIsInstance(json.loads(reply.message.content), dict)
        streamed = list(client().generate(model="smollm2", prompt="Give the name and age of a cat.", format="json", stream=True,
                                          options={**GREEDY, "num_predict": 80}))
        self.assertEqual(streamed[-1].done_reason, "stop")
        self.assertIsInstance(json.loads("".join(c.response for c in streamed)), dict)

    def test_format_schema(self):
        schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 20}, "population": {"type": "integer"},
                                                   "capital": {"type": "boolean"}},
                  "required": ["city", "population", "capital"], "additionalProperties": False}
        for question in ["What is the capital of France?", "Tell me about Tokyo."]:
            reply = client().chat(model="smollm2", messages=[{"role": "user", "content": question}], format=schema,
                                  options={**GREEDY, "num_predict": 80})
            self.assertEqual(reply.done_reason, "stop")
            jsonschema.validate(json.loads(reply.message.content), schema)
        with self.assertRaises(ollama.ResponseError) as caught:
            chat("Hi", format="yaml")
        self.assertEqual(caught.exception.status_code, 400)


class Tools(unittest.TestCase):
    # SmolLM2-135M rarely calls a tool on its own: earlier turns that did (written back as Ollama
    # sends them, arguments as objects, results as `tool` messages) make it likely, not certain.
    def conversation(self, question):
        turns = []
        for city, weather in [("Rome", "sunny"), ("Oslo", "snowing"), ("Lima", "foggy")]:
            turns += [{"role": "user", "content": f"What is the weather in {city}?"},
                      {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": city}}}]}]
        return turns + [{"role": "user", "content": question}]

    def check_calls(self, calls):
        for call in calls or []:
            self.assertEqual(call.function.name, "get_weather")
            self.assertIsInstance(call.function.arguments, dict)
            self.assertIsInstance(call.function.arguments.get("city"), str)

    def test_tool_calls_whole_and_streamed(self):
        options = {**GREEDY, "num_predict": 40, "repeat_penalty": 1}
        whole = client().chat(model="smollm2", messages=self.conversation("What is the weather in Paris?"), tools=[WEATHER], options=options)
        self.assertTrue(whole.done)
        self.check_calls(whole.message.tool_calls)
        if whole.message.tool_calls:
            self.assertEqual(whole.message.content, "")
            self.assertNotIn("<tool_call>", whole.message.content)
        chunks = list(client().chat(model="smollm2", messages=self.conversation("What is the weather in Paris?"), tools=[WEATHER],
                                    options=options, stream=True))
        calls = [call for c in chunks for call in c.message.tool_calls or []]
        self.check_calls(calls)
        self.assertEqual([(c.function.name, c.function.arguments) for c in calls],
                         [(c.function.name, c.function.arguments) for c in whole.message.tool_calls or []])
        self.assertTrue(chunks[-1].done)

    def test_a_python_function_as_tool_and_a_tool_result(self):
        def get_weather(city: str) -> str:
            """The current weather in a city.

            Args:
              city: The city's name
            """
            return "sunny"

        messages = self.conversation("What is the weather in Paris?") + [
            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "content": "rainy, 12 degrees", "tool_name": "get_weather"}]
        reply = client().chat(model="smollm2", messages=messages, tools=[get_weather], options={**GREEDY, "num_predict": 24})
        self.assertTrue(reply.done)
        self.check_calls(reply.message.tool_calls)


class Models(unittest.TestCase):
    def test_tags(self):
        models = client().list().models
        self.assertEqual(len(models), 1)
        entry = models[0]
        self.assertEqual(entry.model, "smollm2")
        with urllib.request.urlopen(urllib.request.Request(main.url + "/api/tags", headers={"Authorization": f"Bearer {KEY}"})) as response:
            self.assertEqual(json.loads(response.read())["models"][0]["name"], "smollm2")
        size = os.path.getsize(model_file)
        self.assertAlmostEqual(entry.size, size, delta=size * 0.05)
        self.assertRegex(entry.digest, r"^[0-9a-f]{64}$")
        self.assertLess(entry.modified_at, datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1))
        details = entry.details
        self.assertEqual((details.format, details.family, details.families), ("gguf", "llama", ["llama"]))
        self.assertEqual((details.parameter_size, details.quantization_level), ("135M", "Q4_1"))

    def test_ps(self):
        models = client().ps().models
        self.assertEqual(len(models), 1)
        running = models[0]
        self.assertEqual((running.model, running.name), ("smollm2", "smollm2"))
        self.assertGreater(running.expires_at, datetime.datetime.now(datetime.timezone.utc))
        self.assertEqual(running.size_vram, 0)
        self.assertEqual(running.context_length, 1024)
        self.assertEqual(running.details.family, "llama")
        self.assertEqual(running.digest, client().list().models[0].digest)

    def test_show(self):
        for name in ["smollm2", "smollm2:latest"]:
            shown = client().show(name)
            self.assertIn("FROM", shown.modelfile)
            self.assertIn("<|im_start|>", shown.template)
            self.assertIsInstance(shown.parameters, str)
            self.assertEqual(shown.details.quantization_level, "Q4_1")
            self.assertEqual(shown.modelinfo["general.architecture"], "llama")
            self.assertGreater(shown.modelinfo["general.parameter_count"], 100_000_000)
            self.assertEqual(sorted(shown.capabilities), ["completion", "tools"])

    def test_version(self):
        request = urllib.request.Request(main.url + "/api/version", headers={"Authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(request) as response:
            self.assertRegex(json.loads(response.read())["version"], r"^\d+\.\d+\.\d+$")

    def test_keep_alive_is_accepted_and_the_model_stays(self):
        for keep_alive in ["5m", "1h30m", "0", "-1", 300, 0, -1, 2.5]:
            with self.subTest(keep_alive=keep_alive):
                self.assertTrue(client().chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}], keep_alive=keep_alive,
                                              options={"num_predict": 1}).done)
        client().generate(model="smollm2", keep_alive=0)
        self.assertEqual([m.model for m in client().ps().models], ["smollm2"])

    def test_any_name_is_answered_by_the_served_model(self):
        for name in ["llama3.2", "llama3.2:latest", "smollm2:latest"]:
            reply = client().chat(model=name, messages=[{"role": "user", "content": "Hi"}], options={"num_predict": 1})
            self.assertEqual(reply.model, "smollm2")

    def test_unknown_model_is_404_with_strict_model_names(self):
        strict = client(small, key=None)
        for call in [lambda: strict.chat(model="llama3.2", messages=[{"role": "user", "content": "Hi"}]),
                     lambda: strict.generate(model="llama3.2", prompt="Hi"),
                     lambda: list(strict.generate(model="llama3.2", prompt="Hi", stream=True)),
                     lambda: strict.show("llama3.2")]:
            with self.assertRaises(ollama.ResponseError) as caught:
                call()
            self.assertEqual(caught.exception.status_code, 404)
            self.assertIn("llama3.2", caught.exception.error)
        for name in ["smollm2", "smollm2:latest"]:
            self.assertEqual(strict.generate(model=name, prompt="Hi", options={"num_predict": 1}).model, "smollm2")


class Pull(unittest.TestCase):
    def test_pull_reports_progress_until_success(self):
        url = f"{files.url}/{PULLED}"
        size = os.path.getsize(model_file)
        lines = list(client(small, key=None).pull(url, stream=True))
        self.assertEqual(lines[0].status, "pulling manifest")
        self.assertEqual([line.status for line in lines[-3:]], ["verifying sha256 digest", "writing manifest", "success"])
        progress = lines[1:-3]
        self.assertGreaterEqual(len(progress), 3)
        self.assertTrue(all(line.status == f"pulling {line.digest}" and line.total == size for line in progress))
        self.assertEqual(len({line.digest for line in progress}), 1)
        completed = [line.completed for line in progress]
        self.assertEqual(completed, sorted(completed))
        self.assertLess(completed[0], size)
        self.assertEqual(completed[-1], size)
        pulled = [os.path.join(root, name) for root, _, names in os.walk(home) for name in names if name == PULLED]
        self.assertEqual([os.path.getsize(path) for path in pulled], [size])
        # Pulled again: it is there already. The served model has not changed.
        self.assertEqual(client(small, key=None).pull(url).status, "success")
        self.assertEqual(client(small, key=None).list().models[0].model, "smollm2")

    def test_pull_of_what_does_not_exist_is_an_error(self):
        strict = client(small, key=None)
        for reference in [f"{files.url}/missing.gguf", "no-such-model-anywhere"]:
            with self.subTest(reference=reference):
                with self.assertRaises(ollama.ResponseError) as caught:
                    list(strict.pull(reference, stream=True))  # an {"error"} line
                self.assertTrue(caught.exception.error)
                with self.assertRaises(ollama.ResponseError) as caught:
                    strict.pull(reference)
                self.assertEqual(caught.exception.status_code, 502)
        # As Ollama streams it: 200, then the error as the last line.
        status, kind, lines = post(small, "/api/pull", {"model": f"{files.url}/missing.gguf"})
        self.assertEqual((status, kind), (200, "application/x-ndjson"))
        self.assertEqual(json.loads(lines[0]), {"status": "pulling manifest"})
        self.assertIn("404", json.loads(lines[-1])["error"])


class BadRequests(unittest.TestCase):
    def refused(self, call, status=400, mentions=None):
        with self.assertRaises(ollama.ResponseError) as caught:
            call()
        self.assertEqual(caught.exception.status_code, status)
        if mentions:
            self.assertIn(mentions, caught.exception.error)
        return caught.exception

    def test_bad_keep_alive_think_images_suffix_template(self):
        messages = [{"role": "user", "content": "Hi"}]
        self.refused(lambda: client().chat(model="smollm2", messages=messages, keep_alive="forever"), mentions="keep_alive")
        self.refused(lambda: client().chat(model="smollm2", messages=messages, think=True), mentions="think")
        self.assertTrue(client().chat(model="smollm2", messages=messages, think=False, options={"num_predict": 1}).done)
        self.refused(lambda: client().chat(model="smollm2", messages=[{"role": "user", "content": "Hi", "images": ["aGVsbG8="]}]),
                     mentions="images")
        self.refused(lambda: client().generate(model="smollm2", prompt="Hi", images=["aGVsbG8="]), mentions="images")
        self.refused(lambda: client().generate(model="smollm2", prompt="def f(", suffix="return 1"), mentions="suffix")
        self.refused(lambda: client().generate(model="smollm2", prompt="Hi", template="{{ .Prompt }}"), mentions="template")

    def test_bad_json_and_fields(self):
        status, _, lines = post(main, "/api/chat", {"model": "smollm2"})
        self.assertEqual(status, 400)
        self.assertIn("messages", json.loads(lines[0])["error"])
        status, _, lines = post(main, "/api/generate", {"model": "smollm2", "prompt": "Hi", "context": [-1]})
        self.assertEqual(status, 400)
        self.assertIn("context", json.loads(lines[0])["error"])
        request = urllib.request.Request(main.url + "/api/chat", data=b"{not json", method="POST", headers={"Authorization": f"Bearer {KEY}"})
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request)
        with caught.exception as error:
            self.assertEqual(error.code, 400)
            self.assertIsInstance(json.loads(error.read())["error"], str)

    def test_embeddings_are_501(self):
        self.refused(lambda: client().embed(model="smollm2", input="Hi"), 501)
        self.refused(lambda: client().embeddings(model="smollm2", prompt="Hi"), 501)
        self.refused(lambda: client().create(model="copy", from_="smollm2"), 501)
        self.refused(lambda: client().copy("smollm2", "copy"), 501)
        self.refused(lambda: client().delete("smollm2"), 501)

    def test_missing_or_wrong_key_is_401(self):
        for key in [None, "wrong"]:
            with self.subTest(key=key):
                self.refused(lambda: client(key=key).chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}]), 401)
                self.refused(lambda: list(client(key=key).chat(model="smollm2", messages=[{"role": "user", "content": "Hi"}], stream=True)), 401)
                self.refused(lambda: client(key=key).list(), 401)
                self.refused(lambda: client(key=key).pull("smollm2"), 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
