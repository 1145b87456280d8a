#!/usr/bin/env python3
"""Reference renderings of real chat templates for EmberTokenizer's Jinja interpreter, made by jinja2.

Reads the templates in Tests/EmberTokenizerTests/Fixtures/chat_templates/*.jinja (copied verbatim from the
models: SmolLM2 from its GGUF's tokenizer.chat_template, the others from llama.cpp's models/templates and
the models' tokenizer_config.json; Qwen3 and Phi-3.5 from llama.cpp's models/templates) and writes goldens.json next to them: for each template and each
conversation below, the inputs and either jinja2's output or the error the template raised.

The environment is the one Hugging Face transformers' apply_chat_template builds
(transformers/utils/chat_template_utils.py, _cached_compile_jinja_template):
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with the loopcontrols extension,
tojson replaced by json.dumps(ensure_ascii=False, ...), and the globals raise_exception, strftime_now,
dict and namespace. strftime_now formats a fixed date (FIXED_NOW) so the goldens are stable; the Swift
tests pass the same date. Like transformers, the render passes tools=None and documents=None.

Usage: pip install jinja2 && python3 scripts/goldens/make_chat_template_goldens.py
"""

import json
from datetime import datetime
from pathlib import Path

import jinja2
import jinja2.ext
import jinja2.utils
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "Tests/EmberTokenizerTests/Fixtures/chat_templates"
FIXED_NOW = datetime(2025, 3, 9, 14, 5, 30)

TEMPLATES = {
    "smollm2": ("HuggingFaceTB-SmolLM2-135M-Instruct.jinja", "<|im_start|>", "<|im_end|>"),
    "llama3": ("meta-llama-Llama-3.2-3B-Instruct.jinja", "<|begin_of_text|>", "<|eot_id|>"),
    "mistral": ("mistralai-Mistral-Nemo-Instruct-2407.jinja", "<s>", "</s>"),
    "qwen2.5": ("Qwen-Qwen2.5-7B-Instruct.jinja", "", "<|im_end|>"),
    "gemma3": ("google-gemma-3-4b-it.jinja", "<bos>", "<eos>"),
    "qwen3": ("Qwen-Qwen3-0.6B.jinja", "", "<|im_end|>"),
    "phi3": ("microsoft-Phi-3.5-mini-instruct.jinja", "<s>", "<|endoftext|>"),
}


class RaisedByTemplate(jinja2.exceptions.TemplateError):
    """What raise_exception throws, told apart from jinja2's own errors."""


def make_environment():
    def raise_exception(message):
        raise RaisedByTemplate(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return FIXED_NOW.strftime(format)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                                extensions=[jinja2.ext.loopcontrols])
    environment.filters["tojson"] = tojson
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = strftime_now
    environment.globals["dict"] = dict
    environment.globals["namespace"] = jinja2.utils.Namespace
    return environment


def user(text):
    return {"role": "user", "content": text}


def assistant(text):
    return {"role": "assistant", "content": text}


def system(text):
    return {"role": "system", "content": text}


CONVERSATIONS = {
    "system_user": [system("You are a concise assistant."), user("What is the capital of France?")],
    "user_only": [user("Hello!")],
    "multi_turn": [user("Hi there"), assistant("Hello! How can I help?"), user("Tell me a joke.")],
    "system_multi_turn": [system("Answer in French."), user("Good morning"), assistant("Bonjour !"),
                          user("How are you?"), assistant("Très bien, merci.")],
    "unicode_quotes_newlines": [
        system("  Rules:\n- be \"nice\"\n- use C:\\path\\to\\file\t\n"),
        user("  Grüße 🌍 — \"double\" and 'single' quotes,\nnew line, {{ not a tag }} {% raw %} <b>&amp;</b>  \n"),
        assistant("日本語で答えます。\n\n```json\n{\"a\": [1, 2]}\n```"),
        user("\u00e9 vs e\u0301, zero\u200bwidth, emoji 👨‍👩‍👧"),
    ],
    "two_users_in_a_row": [user("First question"), user("Second question")],
    "assistant_first": [assistant("I speak first."), user("Then me.")],
    "no_messages": [],
}

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city, in \"metric\" units <default>.",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name, e.g. Zürich"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7.5},
                "detailed": {"type": "boolean", "default": False},
                "units": {"type": "string", "enum": ["metric", "imperial"], "nullable": None},
            },
            "required": ["city"],
        },
    },
}

TOOL_CALL = {"id": "call12345", "type": "function",
             "function": {"name": "get_weather", "arguments": {"city": "Zürich", "days": 2}}}

# Conversations that need more than role and content: rendered through ChatTemplate.render(context:).
CONTEXT_CASES = {
    "llama3": {
        "tools_in_user_message": {
            "messages": [system("Be brief."), user("Weather in Zürich?"),
                         {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
                         {"role": "ipython", "content": {"temperature": 21.5, "sky": "clear"}},
                         assistant("It is 21.5 °C and clear.")],
            "tools": [WEATHER_TOOL],
        },
        "tools_in_system_message": {
            "messages": [user("Weather in Paris?")],
            "tools": [WEATHER_TOOL],
            "tools_in_user_message": False,
        },
        "custom_date": {"messages": [user("What day is it?")], "date_string": "01 Jan 2030"},
        "two_tool_calls": {
            "messages": [user("Two cities"),
                         {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL, TOOL_CALL]}],
        },
    },
    "qwen2.5": {
        "tools": {
            "messages": [user("Weather in Zürich?"),
                         {"role": "assistant", "content": "Let me check.", "tool_calls": [TOOL_CALL]},
                         {"role": "tool", "content": "{\"temperature\": 21.5}"},
                         {"role": "tool", "content": "second result"},
                         assistant("It is 21.5 °C.")],
            "tools": [WEATHER_TOOL],
        },
        "tools_with_system": {
            "messages": [system("You are a weather bot."), user("Weather?")],
            "tools": [WEATHER_TOOL],
        },
    },
    "mistral": {
        "tools": {
            "messages": [system("Use tools."), user("Weather in Zürich?"),
                         {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
                         {"role": "tool", "content": "{\"temperature\": 21.5}", "tool_call_id": "call12345"},
                         assistant("It is 21.5 °C."), user("Thanks")],
            "tools": [WEATHER_TOOL],
        },
        "bad_tool_call_id": {
            "messages": [user("Weather?"),
                         {"role": "assistant", "content": "",
                          "tool_calls": [dict(TOOL_CALL, id="short")]}],
        },
        "unknown_role": {"messages": [user("hi"), {"role": "narrator", "content": "meanwhile"}]},
    },
    "qwen3": {
        "thinking_off": {"messages": [user("What is 2 + 2?")], "enable_thinking": False},
        "thinking_on": {"messages": [user("What is 2 + 2?")], "enable_thinking": True},
        "earlier_reasoning": {
            "messages": [user("What is 2 + 2?"),
                         assistant("<think>\nTwo and two make four.\n</think>\n\n4"),
                         user("And 3 + 3?"),
                         {"role": "assistant", "content": "6", "reasoning_content": "Three and three make six."}],
        },
        "tools": {
            "messages": [system("You are a weather bot."), user("Weather in Zürich?"),
                         {"role": "assistant", "content": "", "tool_calls": [TOOL_CALL]},
                         {"role": "tool", "content": "{\"temperature\": 21.5}"},
                         assistant("It is 21.5 °C.")],
            "tools": [WEATHER_TOOL],
            "enable_thinking": False,
        },
    },
    "gemma3": {
        "content_parts": {
            "messages": [{"role": "system", "content": [{"type": "text", "text": "Describe images."}]},
                         {"role": "user", "content": [{"type": "image"},
                                                      {"type": "text", "text": "  What is this?  "}]},
                         assistant("A cat."),
                         {"role": "user", "content": [{"type": "text", "text": "And "},
                                                      {"type": "image"}, {"type": "text", "text": " this?"}]}],
        },
        "invalid_content": {"messages": [{"role": "user", "content": 42}]},
    },
}


def tagged(value):
    """JSON that keeps dict order and the int/float/bool distinction for the Swift decoder."""
    if value is None:
        return {"none": True}
    if isinstance(value, bool):
        return {"bool": value}
    if isinstance(value, int):
        return {"int": value}
    if isinstance(value, float):
        return {"double": value}
    if isinstance(value, str):
        return {"string": value}
    if isinstance(value, (list, tuple)):
        return {"array": [tagged(item) for item in value]}
    if isinstance(value, dict):
        return {"object": [[key, tagged(item)] for key, item in value.items()]}
    raise TypeError(f"cannot tag {value!r}")


def render(template, variables):
    try:
        return {"output": template.render(**variables)}
    except RaisedByTemplate as error:
        return {"raised": str(error)}
    except jinja2.exceptions.TemplateError as error:
        return {"error": f"{type(error).__name__}: {error}"}
    except Exception as error:  # Python errors inside the template (TypeError, ...)
        return {"error": f"{type(error).__name__}: {error}"}


def main():
    environment = make_environment()
    cases = []
    for name, (file, bos, eos) in TEMPLATES.items():
        template = environment.from_string((FIXTURES / file).read_text(encoding="utf-8"))
        base = {"bos_token": bos, "eos_token": eos, "tools": None, "documents": None}
        for conversation, messages in CONVERSATIONS.items():
            for generation_prompt in (True, False):
                variables = dict(base, messages=messages, add_generation_prompt=generation_prompt)
                cases.append({"template": name, "name": conversation, "add_generation_prompt": generation_prompt,
                              "messages": messages, **render(template, variables)})
        for case, extra in CONTEXT_CASES.get(name, {}).items():
            for generation_prompt in (True, False):
                variables = dict(base, add_generation_prompt=generation_prompt, **extra)
                cases.append({"template": name, "name": case, "add_generation_prompt": generation_prompt,
                              "context": tagged(variables), **render(template, variables)})
    goldens = {
        "jinja2": jinja2.__version__,
        "now": {"year": FIXED_NOW.year, "month": FIXED_NOW.month, "day": FIXED_NOW.day,
                "hour": FIXED_NOW.hour, "minute": FIXED_NOW.minute, "second": FIXED_NOW.second},
        "templates": {name: {"file": file, "bos": bos, "eos": eos} for name, (file, bos, eos) in TEMPLATES.items()},
        "cases": cases,
    }
    path = FIXTURES / "goldens.json"
    path.write_text(json.dumps(goldens, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    outcomes = [("output" in case, "raised" in case, "error" in case) for case in cases]
    print(f"wrote {len(cases)} cases to {path.relative_to(ROOT)}: {sum(o[0] for o in outcomes)} rendered, "
          f"{sum(o[1] for o in outcomes)} raised by the template, {sum(o[2] for o in outcomes)} other errors")


if __name__ == "__main__":
    main()
