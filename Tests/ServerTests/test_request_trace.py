"""Requests in the trace of `ember serve --trace`: each request a row of its own (a `request` span
holding `queued`, `prefill` and `decode`, with how it ended and the first and last scheduler steps that
served it), each `scheduler.step` span listing the requests it ran, and `ember trace summary` giving
per-request percentiles.

    python3 Tests/ServerTests/test_request_trace.py .build/release/ember
"""
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile
import unittest

import openai

import ember_server

EMBER = sys.argv.pop(1) if len(sys.argv) > 1 else ".build/release/ember"


class RequestTrace(unittest.TestCase):
    def test_each_request_is_a_row_linked_to_its_steps(self):
        directory = tempfile.mkdtemp()
        path = os.path.join(directory, "serve.json")
        server = ember_server.Server(EMBER, "--parallel", "2", "-c", "512", "-t", "2", "--trace", path)
        client = server.client()
        questions = ["Name a colour.", "Name a fruit.", "Name a river.", "Name a planet."]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda question: client.chat.completions.create(
                model="smollm2", messages=[{"role": "user", "content": question}], temperature=0, max_tokens=12), questions))
        self.assertTrue(all(answer.choices[0].message.content for answer in answers))
        with self.assertRaises(openai.APIStatusError):  # 504: over its own time limit
            client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "Tell a long story."}],
                                           max_tokens=400, extra_body={"timeout": 0.05})
        server.stop()

        with open(path) as file:
            events = json.load(file)["traceEvents"]
        spans = [event for event in events if event.get("ph") == "X"]
        requests = [span for span in spans if span["name"] == "request"]
        self.assertEqual(len(requests), 5)
        self.assertEqual(len({(span["pid"], span["tid"]) for span in requests}), 5, "a row each")
        ends = sorted(span["args"]["end"] for span in requests)
        self.assertEqual(ends, ["finished"] * 4 + ["timedOut"])
        steps = {span["args"]["step"]: span["args"]["requests"].split(",") for span in spans if span["name"] == "scheduler.step"}
        for request in requests:
            row = [span for span in spans if (span["pid"], span["tid"]) == (request["pid"], request["tid"])]
            self.assertEqual(sorted(span["name"] for span in row), ["decode", "prefill", "queued", "request"])
            start, end = request["ts"], request["ts"] + request["dur"]
            for part in row:
                self.assertTrue(start - 0.01 <= part["ts"] and part["ts"] + part["dur"] <= end + 0.01, part["name"])
            if request["args"]["end"] == "finished":
                first, last = request["args"]["first_step"], request["args"]["last_step"]
                self.assertGreaterEqual(last, first)
                for step in (first, last):
                    self.assertIn(str(request["args"]["id"]), steps[step], f"step {step} lists request {request['args']['id']}")

        summary = subprocess.run([EMBER, "trace", "summary", path], capture_output=True, text=True, check=True).stdout
        self.assertIn("requests: 5 (4 finished, 1 timedOut)", summary)
        for line in ("queue ms", "first token ms", "tokens/s"):
            self.assertIn(line, summary)


if __name__ == "__main__":
    unittest.main(verbosity=2)
