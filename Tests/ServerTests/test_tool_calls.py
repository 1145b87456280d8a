"""Tool calls from `ember serve` through the official `openai` client's tools API, streamed and not,
in each format Ember reads: Hermes' `<tool_call>` tags (the default model given Qwen2.5's chat
template), Llama 3.x's bare JSON (Llama 3.2's template), and the tools Ember describes itself for a
template without them (the default model's own). `required` and a named function are enforced by a
grammar, so every call must name an offered function and its arguments must validate against its
schema (`jsonschema`); results fed back as `role: tool` messages; `none`; and 400s for bad requests.

    python3 Tests/ServerTests/test_tool_calls.py .build/release/ember
"""
import json
import os
import sys
import unittest

import jsonschema
import openai

import ember_server

EMBER = sys.argv.pop(1) if len(sys.argv) > 1 else ".build/release/ember"
TEMPLATES = os.path.join(os.path.dirname(__file__), "..", "EmberTokenizerTests", "Fixtures", "chat_templates")

WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "The current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 30},
                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "The time now in a time zone",
    "parameters": {"type": "object", "properties": {"zone": {"type": "string", "maxLength": 30}}, "required": ["zone"],
                   "additionalProperties": False}}}
SEARCH = {"type": "function", "function": {
    "name": "search_flights", "description": "Flights between two airports on a day",
    "parameters": {"type": "object", "properties": {
        "origin": {"type": "string", "maxLength": 3, "minLength": 3},
        "destination": {"type": "string", "maxLength": 3, "minLength": 3},
        "date": {"type": "string", "maxLength": 10},
        "passengers": {"type": "integer"},
        "cabin": {"enum": ["economy", "business"]}},
        "required": ["origin", "destination", "date"], "additionalProperties": False}}}
TOOLS = [WEATHER, TIME, SEARCH]
SCHEMAS = {tool["function"]["name"]: tool["function"]["parameters"] for tool in TOOLS}
QUESTIONS = ["What is the weather in Paris?", "What time is it in Tokyo?", "Find me a flight from SFO to JFK on 2026-12-24.",
             "Is it raining in London, and what time is it there?"]


def check_calls(test, calls, allowed=None):
    test.assertTrue(calls, "the reply has tool calls")
    for call in calls:
        test.assertEqual(call.type, "function")
        test.assertTrue(call.id.startswith("call_"))
        test.assertIn(call.function.name, allowed or SCHEMAS)
        jsonschema.validate(json.loads(call.function.arguments), SCHEMAS[call.function.name])


def streamed_calls(test, stream):
    """The calls of a streamed reply, put together from its deltas as a client does."""
    calls, finish, content = {}, None, ""
    for chunk in stream:
        if not chunk.choices:
            continue
        choice = chunk.choices[0]
        content += choice.delta.content or ""
        for step in choice.delta.tool_calls or []:
            if step.id:
                test.assertNotIn(step.index, calls, "a call's id comes once")
                calls[step.index] = {"id": step.id, "name": step.function.name, "arguments": ""}
            calls[step.index]["arguments"] += step.function.arguments or ""
        finish = choice.finish_reason or finish
    return [calls[index] for index in sorted(calls)], finish, content


class ToolCallFormats:
    """The tests every format passes; subclasses start the server with a template."""
    template = None
    parallel = True

    @classmethod
    def setUpClass(cls):
        arguments = ["--chat-template-file", os.path.join(TEMPLATES, cls.template)] if cls.template else []
        cls.server = ember_server.Server(EMBER, "--parallel", "2", *arguments)
        cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def ask(self, question, max_tokens=240, **options):
        return self.client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": question}],
                                                   tools=TOOLS, max_tokens=max_tokens, **options)

    def test_required_calls_validate_greedy_and_sampled(self):
        for question in QUESTIONS:
            for sampling in [{"temperature": 0}, {"temperature": 1.0, "seed": 7}]:
                with self.subTest(question=question, **sampling):
                    reply = self.ask(question, tool_choice="required", parallel_tool_calls=False, **sampling)
                    choice = reply.choices[0]
                    self.assertEqual(choice.finish_reason, "tool_calls")
                    self.assertIsNone(choice.message.content)
                    check_calls(self, choice.message.tool_calls)
                    self.assertEqual(len(choice.message.tool_calls), 1)

    def test_parallel_calls_each_validate(self):
        # The small default model tends to repeat calls until its budget ends; every call it
        # finished must still be valid.
        for question in QUESTIONS:
            with self.subTest(question=question):
                choice = self.ask(question, tool_choice="required", temperature=0, max_tokens=120).choices[0]
                self.assertIn(choice.finish_reason, ["tool_calls", "length"])
                calls = choice.message.tool_calls
                check_calls(self, calls[:-1] if choice.finish_reason == "length" else calls)
                if not self.parallel:
                    self.assertEqual(len(calls), 1)

    def test_a_named_function_is_the_one_called(self):
        reply = self.ask("Tell me a joke.", tool_choice={"type": "function", "function": {"name": "get_time"}},
                         parallel_tool_calls=False, temperature=0)
        calls = reply.choices[0].message.tool_calls
        check_calls(self, calls, allowed=["get_time"])
        self.assertEqual(len(calls), 1)

    def test_streamed_calls_equal_whole_ones(self):
        for question in QUESTIONS[:3]:
            with self.subTest(question=question):
                whole = self.ask(question, tool_choice="required", temperature=0, max_tokens=120).choices[0]
                calls, finish, content = streamed_calls(self, self.ask(question, tool_choice="required", temperature=0, max_tokens=120,
                                                                       stream=True))
                self.assertEqual(finish, whole.finish_reason)
                self.assertEqual(content, whole.message.content or "")
                self.assertEqual([(c["name"], c["arguments"]) for c in calls],
                                 [(c.function.name, c.function.arguments) for c in whole.message.tool_calls])

    def test_the_stream_helper_assembles_the_calls(self):
        with self.client.chat.completions.stream(model="smollm2", messages=[{"role": "user", "content": QUESTIONS[0]}], tools=TOOLS,
                                                 tool_choice="required", parallel_tool_calls=False, temperature=0, max_tokens=240) as stream:
            final = stream.get_final_completion()
        check_calls(self, final.choices[0].message.tool_calls)

    def test_results_are_fed_back(self):
        first = self.ask(QUESTIONS[0], tool_choice="required", temperature=0, parallel_tool_calls=False).choices[0].message
        call = first.tool_calls[0]
        messages = [{"role": "user", "content": QUESTIONS[0]},
                    {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
                    {"role": "tool", "tool_call_id": call.id, "content": json.dumps({"temperature": 21, "sky": "clear"})}]
        reply = self.client.chat.completions.create(model="smollm2", messages=messages, tools=TOOLS, tool_choice="none",
                                                    temperature=0, max_tokens=30)
        self.assertIsNone(reply.choices[0].message.tool_calls)
        self.assertTrue(reply.choices[0].message.content)
        self.assertGreater(reply.usage.prompt_tokens, 60)

    def test_auto_and_none_answer(self):
        for choice in ["auto", "none"]:
            reply = self.ask("Say hello.", tool_choice=choice, temperature=0, max_tokens=20).choices[0]
            if reply.message.tool_calls:
                self.assertEqual(choice, "auto")
                check_calls(self, reply.message.tool_calls)
            else:
                self.assertIn(reply.finish_reason, ["stop", "length"])

    def test_bad_requests_are_400s(self):
        bad = [
            dict(tools=TOOLS, tool_choice={"type": "function", "function": {"name": "launch"}}),
            dict(tools=TOOLS, tool_choice="sometimes"),
            dict(tools=[{"type": "function", "function": {"name": "has space"}}]),
            dict(tools=TOOLS, tool_choice="required", response_format={"type": "json_object"}),
            dict(tool_choice="auto"),
            dict(tools=[{"type": "function", "function": {"name": "f", "parameters": {
                "type": "object", "properties": {"a": {"type": "string", "format": "email"}}}}}], tool_choice="required"),
        ]
        for options in bad:
            with self.subTest(options=options), self.assertRaises(openai.BadRequestError):
                self.client.chat.completions.create(model="smollm2", messages=[{"role": "user", "content": "hi"}], max_tokens=5, **options)
        with self.assertRaises(openai.BadRequestError) as refused:
            self.client.chat.completions.create(model="smollm2", tools=TOOLS, max_tokens=5, messages=[
                {"role": "user", "content": "hi"}, {"role": "tool", "content": "42"}])
        self.assertIn("tool_call_id", str(refused.exception))


class HermesTags(ToolCallFormats, unittest.TestCase):
    template = "Qwen-Qwen2.5-7B-Instruct.jinja"


class LlamaJSON(ToolCallFormats, unittest.TestCase):
    template = "meta-llama-Llama-3.2-3B-Instruct.jinja"
    parallel = False


class DescribedByEmber(ToolCallFormats, unittest.TestCase):
    template = None


if __name__ == "__main__":
    unittest.main(verbosity=2)
