"""Structured output from `ember serve` through the official `openai` client: for each of 32 JSON
schemas of the kinds applications send, a greedy and a sampled answer that must parse and validate
(the `jsonschema` package); `json_object` mode; a GBNF `grammar`; and 400s naming what Ember cannot
follow. Strings and arrays in these schemas are bounded so that every answer ends within its budget.

    python3 Tests/ServerTests/test_structured_output.py .build/release/ember
"""
import concurrent.futures
import json
import sys
import unittest

import jsonschema
import openai

import ember_server

EMBER = sys.argv.pop(1) if len(sys.argv) > 1 else ".build/release/ember"


def text(limit=40, minimum=None):
    schema = {"type": "string", "maxLength": limit}
    if minimum is not None:
        schema["minLength"] = minimum
    return schema


def obj(properties, required=None, **more):
    return {"type": "object", "properties": properties, "required": list(properties) if required is None else required,
            "additionalProperties": False, **more}


def items(schema, most=3, least=None):
    array = {"type": "array", "items": schema, "maxItems": most}
    if least is not None:
        array["minItems"] = least
    return array


SCHEMAS = [
    ("person", "Describe a fictional person.", obj({"name": text(30), "age": {"type": "integer"}, "email": text(40)})),
    ("sentiment", "Classify the sentiment of: 'I love this phone!'",
     obj({"sentiment": {"enum": ["positive", "negative", "neutral"]}, "confidence": {"type": "number"}})),
    ("keywords", "List keywords for an article about volcanoes.", obj({"keywords": items(text(20), 5)})),
    ("yes-no", "Is the sky blue?", obj({"answer": {"type": "boolean"}})),
    ("address", "Give the address of a museum.",
     obj({"museum": text(40), "address": obj({"street": text(40), "city": text(30), "zip": text(10)})})),
    ("todos", "Make a short todo list for a picnic.", obj({"todos": items(obj({"title": text(30), "done": {"type": "boolean"}}), 3)})),
    ("id-any-of", "Give an id for a user.", obj({"id": {"anyOf": [{"type": "integer"}, text(12)]}})),
    ("optional", "Describe a cat.", obj({"name": text(20), "color": text(15), "age": {"type": "integer"}}, required=["name"])),
    ("const", "Report the status.", obj({"version": {"const": 2}, "status": {"enum": ["ok", "degraded"]}})),
    ("nullable", "Who is the king of the moon?", obj({"king": {"type": ["string", "null"], "maxLength": 30}})),
    ("defs", "Give two points of a triangle.",
     {"$defs": {"point": obj({"x": {"type": "integer"}, "y": {"type": "integer"}})},
      **obj({"a": {"$ref": "#/$defs/point"}, "b": {"$ref": "#/$defs/point"}})}),
    ("integer", "How many legs does a spider have?", {"type": "integer"}),
    ("enum-top", "Which is a fruit: apple, car or rock?", {"enum": ["apple", "car", "rock"]}),
    ("min-length", "Name a country.", obj({"country": text(30, minimum=3)})),
    ("numbers", "Give three prime numbers.", obj({"primes": items({"type": "integer"}, 4, least=2)})),
    ("product", "Describe a laptop for sale.",
     obj({"name": text(30), "price": {"type": "number"}, "tags": items(text(15), 3), "in_stock": {"type": "boolean"}})),
    ("event", "Plan a birthday party.", obj({"title": text(30), "date": text(10), "attendees": items(text(20), 3)})),
    ("classify", "Is 'buy cheap pills now' spam?", obj({"label": {"enum": ["spam", "ham"]}, "reasons": items(text(40), 2)})),
    ("translate", "Translate 'good morning' into French.", obj({"language": {"enum": ["fr", "es", "de"]}, "text": text(40)})),
    ("math", "What is 12 times 3?", obj({"expression": text(20), "result": {"type": "integer"}})),
    ("weather", "What is the weather in Oslo?", obj({"city": text(20), "temperature": {"type": "number"}, "unit": {"enum": ["C", "F"]}})),
    ("movie", "Describe a famous movie.",
     obj({"title": text(40), "year": {"type": "integer"}, "genres": items({"enum": ["drama", "comedy", "action", "sci-fi"]}, 3)})),
    ("recipe", "Give a recipe for pancakes.",
     obj({"name": text(30), "ingredients": items(obj({"item": text(20), "quantity": text(15)}), 4)})),
    ("one-of", "Describe a pet.",
     {"oneOf": [obj({"kind": {"const": "dog"}, "breed": text(20)}), obj({"kind": {"const": "fish"}, "water": {"enum": ["fresh", "salt"]}})]}),
    ("empty-object", "Return an empty object.", {"type": "object", "properties": {}, "additionalProperties": False}),
    ("booleans", "Answer three yes/no questions.", obj({"answers": items({"type": "boolean"}, 3)})),
    ("number", "What is pi to two decimals?", {"type": "number"}),
    ("object-or-null", "Find the user named Zed.", {"anyOf": [{"type": "null"}, obj({"user": text(20)})]}),
    ("unicode-keys", "Donne le prénom d'un personnage.", obj({"prénom": text(20), "âge": {"type": "integer"}})),
    ("nested", "Describe a company.",
     obj({"company": obj({"name": text(30), "ceo": obj({"name": text(30), "since": {"type": "integer"}})})})),
    ("string-top", "Say hello.", text(30)),
    ("array-top", "List two colours.", items(text(15), 2, least=1)),
]


def setUpModule():
    global server
    server = ember_server.Server(EMBER, "--parallel", "4", "-c", "4096", "-t", "2")


def tearDownModule():
    server.stop()


def ask(prompt, response_format=None, **options):
    extra = {"response_format": response_format} if response_format else {}
    return server.client().chat.completions.create(
        model="smollm2", messages=[{"role": "user", "content": prompt + " Answer in JSON."}], max_tokens=1024, **extra, **options)


class Schemas(unittest.TestCase):
    def test_every_answer_parses_and_validates(self):
        self.assertGreaterEqual(len(SCHEMAS), 30)

        def run(case, sampled):
            name, prompt, schema = case
            response = ask(prompt, {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}},
                           **({"temperature": 0.8, "seed": 7} if sampled else {"temperature": 0}))
            return name, sampled, response.choices[0]

        jobs = [(case, sampled) for case in SCHEMAS for sampled in (False, True)]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(lambda job: run(*job), jobs))
        for (case, _), (name, sampled, choice) in zip(jobs, results):
            with self.subTest(schema=name, sampled=sampled):
                self.assertEqual(choice.finish_reason, "stop", choice.message.content)
                value = json.loads(choice.message.content)
                jsonschema.validate(value, case[2])

    def test_json_object_mode_gives_an_object(self):
        for options in ({"temperature": 0}, {"temperature": 0.8, "seed": 3}):
            content = ask("Give the name and age of a person.", {"type": "json_object"}, **options).choices[0].message.content
            self.assertIsInstance(json.loads(content), dict, content)

    def test_a_gbnf_grammar_is_followed(self):
        response = ask("Is water wet?", temperature=0.8, seed=1, extra_body={"grammar": 'root ::= ("yes" | "no") "."'})
        self.assertIn(response.choices[0].message.content, ("yes.", "no."))

    def test_streamed_answer_is_the_whole_one(self):
        fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": SCHEMAS[0][2]}}
        whole = ask("Describe a fictional person.", fmt, temperature=0).choices[0].message.content
        chunks = server.client().chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "Describe a fictional person. Answer in JSON."}], max_tokens=1024,
            response_format=fmt, temperature=0, stream=True)
        self.assertEqual("".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices), whole)


class Refusals(unittest.TestCase):
    def assert_400(self, naming, **options):
        with self.assertRaises(openai.BadRequestError) as caught:
            ask("Hi.", **options)
        self.assertIn(naming, caught.exception.message)

    def test_unsupported_schema_keywords_are_named(self):
        for keyword, schema in [("pattern", {"type": "string", "pattern": "^a$"}), ("minimum", {"type": "integer", "minimum": 1}),
                                ("allOf", {"allOf": [{"type": "integer"}]})]:
            with self.subTest(keyword=keyword):
                self.assert_400(keyword, response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}})

    def test_bad_formats_and_grammars_are_400(self):
        self.assert_400("json_schema", response_format={"type": "json_schema"})
        self.assert_400("type must be", response_format={"type": "yaml"})
        self.assert_400("root", extra_body={"grammar": 'start ::= "a"'})
        self.assert_400("line 1", extra_body={"grammar": 'root ::= "a'})


if __name__ == "__main__":
    unittest.main(verbosity=2)
