"""`ember serve` driven by the official `openai` Python client, as apps and agents use it.

Starts two servers on free loopback ports with the default model: a main one (4 slots, an API key)
and a small one (1 slot, a queue of 1, a 512-token context) for the busy and too-long cases. Checks
chat and text completions, whole and streamed, 8 concurrent clients getting what they get alone, a
client that disconnects mid-stream (its slot is free at once), and every kind of bad request.

    python3 Tests/ServerTests/test_openai_client.py .build/release/ember
"""
import concurrent.futures
import http.client
import json
import re
import sys
import time
import unittest
import urllib.error
import urllib.request

import openai

import ember_server

EMBER = sys.argv.pop(1) if len(sys.argv) > 1 else ".build/release/ember"
KEY = "test-key"


def Server(*arguments):
    return ember_server.Server(EMBER, *arguments, key=KEY)


def setUpModule():
    global main, small
    main = Server("--parallel", "4", "--api-key", KEY, "-c", "1024", "-t", "2", "--alias", "tiny-assistant")
    small = Server("--parallel", "1", "--queue", "1", "-c", "512", "-t", "2", "--strict-model-name")


def tearDownModule():
    main.stop()
    small.stop()


def chat(client, content, **options):
    return client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": content}],
                                          temperature=0, **options)


class Completions(unittest.TestCase):
    def test_a_repeated_system_prompt_is_reported_cached(self):
        system = "You answer questions about geography. " * 20
        def ask(question):
            return main.client().chat.completions.create(model="smollm2", temperature=0, max_tokens=8, messages=[
                {"role": "system", "content": system}, {"role": "user", "content": question}])
        first, second = ask("Where is Peru?"), ask("Where is Chad?")
        self.assertEqual(first.usage.prompt_tokens_details.cached_tokens, 0)
        self.assertGreater(second.usage.prompt_tokens_details.cached_tokens, 100)
        self.assertLess(second.usage.prompt_tokens_details.cached_tokens, second.usage.prompt_tokens)

    def test_chat_whole(self):
        response = chat(main.client(), "What is the capital of France?", max_tokens=24)
        self.assertEqual(response.object, "chat.completion")
        self.assertIn("Paris", response.choices[0].message.content)
        self.assertEqual(response.choices[0].message.role, "assistant")
        self.assertIn(response.choices[0].finish_reason, ("stop", "length"))
        usage = response.usage
        self.assertGreater(usage.prompt_tokens, 10)
        self.assertEqual(usage.total_tokens, usage.prompt_tokens + usage.completion_tokens)

    def test_chat_stream_equals_whole_and_reports_usage(self):
        client = main.client()
        whole = chat(client, "Name three colours.", max_tokens=20).choices[0].message.content
        chunks = list(chat(client, "Name three colours.", max_tokens=20, stream=True, stream_options={"include_usage": True}))
        self.assertEqual(chunks[0].choices[0].delta.role, "assistant")
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        self.assertEqual(text, whole)
        finals = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
        self.assertEqual(finals, ["length"])
        self.assertEqual(chunks[-1].choices, [])
        self.assertEqual(chunks[-1].usage.completion_tokens, 20)

    def test_text_completion_whole_and_streamed(self):
        client = main.client()
        whole = client.completions.create(model="smollm2", prompt="The capital of France is", max_tokens=6, temperature=0)
        self.assertEqual(whole.object, "text_completion")
        self.assertTrue(whole.choices[0].text.startswith(" Paris"))
        self.assertEqual(whole.choices[0].finish_reason, "length")
        streamed = "".join(c.choices[0].text for c in client.completions.create(
            model="smollm2", prompt="The capital of France is", max_tokens=6, temperature=0, stream=True))
        self.assertEqual(streamed, whole.choices[0].text)

    def test_stop_seed_and_logprobs(self):
        client = main.client()
        stopped = chat(client, "Count from 1 to 10, separated by commas.", max_tokens=40, stop=["5"])
        self.assertNotIn("5", stopped.choices[0].message.content)
        self.assertEqual(stopped.choices[0].finish_reason, "stop")
        # The same seed, the same text. The prompt is asked once first, so that both compared requests
        # find all of it but its last token in the prefix cache: a prompt computed in other chunks gives
        # logits that differ by about 1e-2, which can change a draw at temperature 1.
        sampled = [client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Tell me a story."}],
                                                  temperature=1.0, seed=7, max_tokens=16).choices[0].message.content
                   for _ in range(3)]
        self.assertEqual(sampled[1], sampled[2])
        response = chat(client, "Hi", max_tokens=3, logprobs=True, top_logprobs=2)
        entries = response.choices[0].logprobs.content
        self.assertEqual(len(entries), 3)
        self.assertTrue(all(e.logprob <= 0 and len(e.top_logprobs) == 2 for e in entries))
        self.assertEqual(entries[0].top_logprobs[0].token, entries[0].token)  # greedy: the chosen one is the most likely

    def test_logit_bias_bans_and_forces_tokens(self):
        client = main.client()
        prompt = "The capital of France is"

        def complete(**options):
            return client.completions.create(model="smollm2", prompt=prompt, max_tokens=3, **options).choices[0].text

        # Greedy continues with " Paris" (token 7042, Tests/EmberEngineTests/Fixtures/generation_goldens.json).
        self.assertTrue(complete(temperature=0).startswith(" Paris"))
        self.assertFalse(complete(temperature=0, logit_bias={"7042": -100}).startswith(" Paris"))
        # Pushed up by 100, token 30 ('.') is chosen at any temperature.
        self.assertEqual(complete(temperature=1.5, logit_bias={"30": 100}), "...")
        for bad in ({"x": 1}, {"-1": 1}, {"49152": 1}, {"7042": 101}, {"7042": "a"}):
            with self.assertRaises(openai.BadRequestError) as caught:
                complete(logit_bias=bad)
            self.assertIn("logit_bias", str(caught.exception))

    def test_eight_concurrent_clients_get_what_they_get_alone(self):
        prompts = [f"Write one sentence about the number {n}." for n in range(8)]
        client = main.client()
        alone = [chat(client, p, max_tokens=24).choices[0].message.content for p in prompts]
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            together = list(pool.map(lambda p: chat(main.client(), p, max_tokens=24).choices[0].message.content, prompts))
        self.assertEqual(together, alone)

    def test_disconnected_client_frees_its_slot(self):
        port = int(main.url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("POST", "/v1/chat/completions", headers={"Authorization": f"Bearer {KEY}"},
                           body=json.dumps({"messages": [{"role": "user", "content": "Write a long story."}],
                                            "max_tokens": 1000, "stream": True}))
        response = connection.getresponse()
        for _ in range(6):
            response.readline()
        self.assertEqual(main.metric("ember_active_sequences"), 1)
        connection.close()  # mid-stream
        self.assertEqual(main.wait_idle(), 0)
        self.assertIn("Paris", chat(main.client(), "What is the capital of France?", max_tokens=16).choices[0].message.content)


class BadRequests(unittest.TestCase):
    def post(self, server, body, key=KEY, route="/v1/chat/completions"):
        request = urllib.request.Request(server.url + route, data=body.encode(), method="POST",
                                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(request)
            self.fail("expected an error")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())["error"], error.headers

    def test_bad_json_and_fields_are_400(self):
        status, error, _ = self.post(main, "{not json")
        self.assertEqual(status, 400)
        self.assertIn("JSON", error["message"])
        with self.assertRaises(openai.BadRequestError) as caught:
            main.client().chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}], temperature=5)
        self.assertIn("temperature", str(caught.exception))
        with self.assertRaises(openai.BadRequestError) as caught:
            main.client().chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}], n=2)
        self.assertIn("'n'", str(caught.exception))
        status, error, _ = self.post(main, json.dumps({"messages": [{"role": "user", "content": "hi"}], "tools": []}))
        self.assertEqual((status, error["param"]), (400, "tools"))
        status, error, _ = self.post(main, json.dumps({"messages": [{"role": "user", "content": "hi"}], "functions": []}))
        self.assertEqual((status, error["param"]), (400, "functions"))

    def test_any_model_name_is_answered_by_the_served_model_which_the_response_names(self):
        self.assertEqual([model.id for model in main.client().models.list()], ["tiny-assistant"])
        for name in ["gpt-4o", "smollm2", "tiny-assistant"]:
            reply = main.client().chat.completions.create(model=name, messages=[{"role": "user", "content": "hi"}], max_tokens=2)
            self.assertEqual(reply.model, "tiny-assistant")

    def test_unknown_model_is_404_with_strict_model_names(self):
        with self.assertRaises(openai.NotFoundError) as caught:
            small.client().chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
        self.assertIn("gpt-4o", str(caught.exception))
        reply = small.client().chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}], max_tokens=2)
        self.assertEqual(reply.model, "smollm2")

    def test_prompt_over_the_context_is_400_naming_the_limit(self):
        with self.assertRaises(openai.BadRequestError) as caught:
            chat(small.client(), "word " * 600, max_tokens=4)
        self.assertIn("512", str(caught.exception))

    def test_missing_or_wrong_key_is_401(self):
        with self.assertRaises(openai.AuthenticationError):
            chat(main.client(key="wrong"), "hi", max_tokens=2)
        status, _, _ = self.post(main, json.dumps({"messages": [{"role": "user", "content": "hi"}]}), key="")
        self.assertEqual(status, 401)
        self.assertEqual(urllib.request.urlopen(main.url + "/health").status, 200)  # health needs no key

    def test_request_timeout(self):
        # A request's own `timeout` (seconds): whole, the answer is a 504 naming the field; streamed, the
        # text so far ends with finish_reason "length". A timeout that is not a positive number is a 400.
        client = main.client()
        limited = {"timeout": 0.2, "ignore_eos": True}
        with self.assertRaises(openai.APIStatusError) as caught:
            client.completions.create(model="smollm2", prompt="1, 2, 3,", max_tokens=1000, temperature=0, extra_body=limited)
        self.assertEqual(caught.exception.status_code, 504)
        self.assertEqual(caught.exception.body["param"], "timeout")
        chunks = list(client.completions.create(model="smollm2", prompt="1, 2, 3,", max_tokens=1000, temperature=0, stream=True,
                                                stream_options={"include_usage": True}, extra_body=limited))
        self.assertEqual(chunks[-2].choices[0].finish_reason, "length")
        self.assertLess(chunks[-1].usage.completion_tokens, 1000)
        status, error, _ = self.post(main, json.dumps({"prompt": "hi", "timeout": -1}), route="/v1/completions")
        self.assertEqual((status, error["param"]), (400, "timeout"))

    def test_full_queue_is_503_with_retry_after(self):
        # The small server has one slot and a queue of one: once both are taken, a request is refused.
        # Each holds its place for 480 tokens (a few seconds), so the refusal does not race their end.
        client = small.client()
        counting = lambda _: client.completions.create(model="smollm2", prompt="1, 2, 3, 4, 5,", max_tokens=480, temperature=0,
                                                       extra_body={"ignore_eos": True})
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(counting, i) for i in range(2)]
            deadline = time.time() + 20
            while (small.metric("ember_queue_depth") < 1 or small.metric("ember_active_sequences") < 1) and time.time() < deadline:
                time.sleep(0.01)
            self.assertEqual((small.metric("ember_queue_depth"), small.metric("ember_active_sequences")), (1, 1))
            status, error, headers = self.post(small, json.dumps({"messages": [{"role": "user", "content": "hi"}]}))
            results = [future.result() for future in futures]
        self.assertEqual(status, 503)
        self.assertIn("busy", error["message"])
        self.assertEqual(headers["Retry-After"], "1")
        self.assertEqual([r.usage.completion_tokens for r in results], [480, 480])


if __name__ == "__main__":
    unittest.main(verbosity=2)
