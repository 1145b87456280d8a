// The Jinja interpreter's language features one at a time: whitespace control, loops, scopes,
// namespaces, macros, expressions, filters, string and dict methods, tests, Undefined, and errors
// that name their line and column. The expected strings are what jinja2 3.1 renders in transformers'
// environment for the same template and variables (checked when these cases were written).

import EmberJinja
import Testing

@Suite struct JinjaTests {
    static let context: [String: JinjaValue] = [
        "messages": [["role": "system", "content": " Be brief. "], ["role": "user", "content": "Hi"],
                     ["role": "assistant", "content": "Hello"]],
        "name": "Ember", "n": 7, "x": 2.5, "numbers": [3, 1, 2], "d": ["b": 1, "a": 2], "empty": [], "flag": true,
        "nothing": .none,
    ]

    private func render(_ source: String, _ context: [String: JinjaValue] = JinjaTests.context) throws(JinjaError) -> String {
        try JinjaTemplate(source).render(context: context, now: JinjaDateTime(year: 2025, month: 3, day: 9))
    }

    private func expectRenders(_ cases: [(String, String)]) {
        for (source, expected) in cases {
            #expect(throws: Never.self, "\(source.debugDescription)") {
                let output = try render(source)
                #expect(output == expected, "\(source.debugDescription)")
            }
        }
    }

    @Test func whitespaceControlMatchesTransformersSettings() { expectRenders(Cases.whitespaceControl) }
    @Test func forLoopsAndLoopVariables() { expectRenders(Cases.loops) }
    @Test func assignmentScopesNamespacesAndMacros() { expectRenders(Cases.assignmentAndScope) }
    @Test func expressionsFollowPython() { expectRenders(Cases.expressions) }
    @Test func filters() { expectRenders(Cases.filters) }
    @Test func tojsonIsTransformersJSONDumps() { expectRenders(Cases.json) }
    @Test func stringAndDictMethods() { expectRenders(Cases.methods) }
    @Test func isTests() { expectRenders(Cases.predicates) }
    @Test func undefinedBehavesAsJinja2Undefined() { expectRenders(Cases.undefinedValues) }

    @Test func strftimeNowFormatsTheGivenDate() throws {
        let template = try JinjaTemplate("{{ strftime_now('%d %b %Y|%B %A %a|%Y-%m-%d %H:%M:%S|%j|%I %p|%%') }}")
        let output = try template.render(context: [:], now: JinjaDateTime(year: 2024, month: 2, day: 29, hour: 13, minute: 5, second: 9))
        #expect(output == "29 Feb 2024|February Thursday Thu|2024-02-29 13:05:09|060|01 PM|%")
    }

    // MARK: Errors

    private func error(_ source: String, _ context: [String: JinjaValue] = JinjaTests.context) -> JinjaError? {
        do {
            _ = try render(source, context)
            return nil
        } catch {
            return error
        }
    }

    @Test func syntaxErrorsNameLineAndColumn() {
        #expect(error("line one\n{% if flag %}\nnever closed") == .syntax(
            "unexpected end of template; expected 'elif' or 'else' or 'endif'", JinjaLocation(line: 3, column: 13)))
        #expect(error("a\nb {{ name | nosuchfilter }}") == .syntax("no filter named 'nosuchfilter'", JinjaLocation(line: 2, column: 11)))
        #expect(error("{{ name is nosuchtest }}") == .syntax("no test named 'nosuchtest'", JinjaLocation(line: 1, column: 9)))
        #expect(error("{{ 1 + }}") == .syntax("expected an expression, found '}}'", JinjaLocation(line: 1, column: 8)))
        #expect(error("{% endfor %}") == .syntax("unexpected 'endfor' outside the block it closes", JinjaLocation(line: 1, column: 4)))
        #expect(error("{% include 'x' %}") == .syntax(
            "unknown tag 'include' (Ember supports if, for, set, macro, break, continue, generation and raw)",
            JinjaLocation(line: 1, column: 4)))
        #expect(error("{% break %}") == .syntax("'break' outside a for loop", JinjaLocation(line: 1, column: 4)))
        #expect(error("{{ 'unterminated }}") == .syntax("unterminated string literal", JinjaLocation(line: 1, column: 4)))
        #expect(error("x\n{# no end") == .syntax("missing end of comment tag '#}'", JinjaLocation(line: 2, column: 1)))
        #expect(error("{{ (1 ]") == .syntax("unexpected ']'", JinjaLocation(line: 1, column: 7)))
        #expect(error("{{ name @ 1 }}") == .syntax("unexpected character '@'", JinjaLocation(line: 1, column: 9)))
    }

    @Test func errorDescriptionsPointAtTheTemplate() {
        let description = error("\n\n{{ 'a' + 1 }}")?.description ?? ""
        #expect(description == "chat template type error at line 3, column 8: can only concatenate str (not \"int\") to str")
        #expect(JinjaError.raised("roles must alternate").description
            == "the chat template rejected the conversation: roles must alternate")
    }

    @Test func runtimeErrorsAreTypedAndLocated() {
        #expect(error("{{ 'a' + 1 }}") == .type("can only concatenate str (not \"int\") to str", JinjaLocation(line: 1, column: 8)))
        #expect(error("{{ 1 - 'a' }}") == .type("unsupported operand type(s) for -: 'int' and 'str'", JinjaLocation(line: 1, column: 6)))
        #expect(error("{{ missing.attribute }}") == .undefined("'missing' is undefined", JinjaLocation(line: 1, column: 11)))
        #expect(error("{{ messages[0].nope.deeper }}") == .undefined("'dict object' has no attribute 'nope'", JinjaLocation(line: 1, column: 20)))
        #expect(error("{{ missing + 1 }}") == .undefined("'missing' is undefined", JinjaLocation(line: 1, column: 12)))
        #expect(error("{{ missing() }}") == .undefined("'missing' is undefined", JinjaLocation(line: 1, column: 11)))
        #expect(error("{{ name() }}") == .type("'str' object is not callable", JinjaLocation(line: 1, column: 8)))
        #expect(error("{{ 1 // 0 }}") == .arithmetic("integer division or modulo by zero", JinjaLocation(line: 1, column: 6)))
        #expect(error("{{ 9223372036854775807 + 1 }}") == .arithmetic("integer overflow in +", JinjaLocation(line: 1, column: 24)))
        #expect(error("{{ 'a' < 1 }}") == .type("'<' not supported between instances of 'str' and 'int'", JinjaLocation(line: 1, column: 10)))
        #expect(error("{{ nothing | tojson }}") == nil)
        #expect(error("{{ missing | tojson }}") == .type("Object of type Undefined is not JSON serializable", JinjaLocation(line: 1, column: 12)))
        #expect(error("{% for a, b in numbers %}{% endfor %}") == .type("'int' object is not iterable", JinjaLocation(line: 1, column: 4)))
        #expect(error("{% set name.x = 1 %}") == .type(
            "cannot assign attribute 'x' on 'name': only a namespace() takes attribute assignment", JinjaLocation(line: 1, column: 4)))
        #expect(error("{% set ns = namespace() %}{% set ns._secret = 1 %}") == .type(
            "chat templates cannot store underscore-prefixed attributes on a namespace, but got '_secret'",
            JinjaLocation(line: 1, column: 30)))
        #expect(error("{{ numbers.append(4) }}") == .type(
            "list.append() would modify the list, which chat templates may not do", JinjaLocation(line: 1, column: 18)))
    }

    @Test func raiseExceptionCarriesTheTemplatesMessage() {
        #expect(error("{{ raise_exception('bad role: ' ~ messages[0].role) }}") == .raised("bad role: system"))
    }

    @Test func limitsStopRunawayTemplates() {
        #expect(error("{{ range(1000000) | length }}") == .arithmetic(
            "range of 1000000 items is larger than the sandbox allows (100000)", JinjaLocation(line: 1, column: 9)))
        #expect(error("{{ 'x' * 100000000 }}") == .arithmetic(
            "repetition would build more than 16777216 elements", JinjaLocation(line: 1, column: 8)))
        #expect(error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}") == .arithmetic(
            "macro 'f' recursed deeper than 32 calls", JinjaLocation(line: 1, column: 21)))
        let deep = String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000)
        guard case .syntax? = error("{{ \(deep) }}") else {
            Issue.record("5000 nested parentheses should be a syntax error")
            return
        }
        let nested = String(repeating: "{% if true %}", count: 5000)
        guard case .syntax? = error(nested) else {
            Issue.record("5000 nested if blocks should be a syntax error")
            return
        }
    }
}

/// Templates and jinja2's renderings of them with `JinjaTests.context`.
private enum Cases {
    static let whitespaceControl: [(String, String)] = [
        ("a\n{% if true %}\nb\n{% endif %}\nc",
         "a\nb\nc"),
        ("a\n    {% if true %}\n    b\n    {% endif %}\nc",
         "a\n    b\nc"),
        ("a  {%- if true -%}  b  {%- endif -%}  c",
         "abc"),
        ("a {{- name -}} b",
         "aEmberb"),
        ("a\n  {{ name }}\nb",
         "a\n  Ember\nb"),
        ("a\n  {%+ if true %}b{% endif +%}\nc",
         "a\n  b\nc"),
        ("x {# comment #}\ny",
         "x y"),
        ("x\n  {# comment #}\ny",
         "x\ny"),
        ("x {#- comment -#}  y",
         "xy"),
        ("line\n",
         "line"),
        ("line\n\n",
         "line\n"),
        ("a\r\nb",
         "a\nb"),
        ("{% raw %}{{ not evaluated }}{% endraw %}",
         "{{ not evaluated }}"),
        ("{% for m in messages %}\n  {{ m.role }}\n{% endfor %}",
         "  system\n  user\n  assistant\n"),
    ]

    static let loops: [(String, String)] = [
        ("{% for m in messages %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
         "1032TrueFalse3;2121FalseFalse3;3210FalseTrue3;"),
        ("{% for n in numbers %}{{ loop.previtem }}<{{ n }}>{{ loop.nextitem }}|{% endfor %}",
         "<3>1|3<1>2|1<2>|"),
        ("{% for n in numbers if n > 1 %}{{ n }}{{ loop.index }}{{ loop.length }} {% endfor %}",
         "312 222 "),
        ("{% for n in empty %}x{% else %}nothing{% endfor %}",
         "nothing"),
        ("{% for n in numbers if n > 5 %}x{% else %}filtered out{% endfor %}",
         "filtered out"),
        ("{% for k, v in d.items() %}{{ k }}={{ v }},{% endfor %}",
         "b=1,a=2,"),
        ("{% for k in d %}{{ k }}{% endfor %}",
         "ba"),
        ("{% for c in 'abc' %}{{ c }}-{% endfor %}",
         "a-b-c-"),
        ("{% for n in numbers %}{% if n == 1 %}{% continue %}{% endif %}{% if n == 2 %}{% break %}{% endif %}{{ n }}{% endfor %}",
         "3"),
        ("{% for n in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}",
         "aba"),
        ("{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }} {% endfor %}",
         "3 7 "),
        ("{% for i in range(2) %}{% for j in range(2) %}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}",
         "121|122|"),
        ("{% for n in range(1, 10, 3) %}{{ n }}{% endfor %}{% for n in range(3, 0, -1) %}{{ n }}{% endfor %}",
         "147321"),
    ]

    static let assignmentAndScope: [(String, String)] = [
        ("{% set a = 1 %}{% if true %}{% set a = 2 %}{% endif %}{{ a }}",
         "2"),
        ("{% set a = 1 %}{% for n in numbers %}{% set a = n %}{% endfor %}{{ a }}",
         "1"),
        ("{% set a = 1 %}{% for n in numbers %}{{ a }}{% set a = n %}{% endfor %}",
         "111"),
        ("{% for n in numbers %}{% if loop.first %}{% set a = 5 %}{% endif %}[{{ a }}]{% endfor %}",
         "[5][][]"),
        ("{% set ns = namespace(total=0) %}{% for n in numbers %}{% set ns.total = ns.total + n %}{% endfor %}{{ ns.total }}",
         "6"),
        ("{% set ns = namespace() %}{% set ns.found = false %}{% for m in messages %}{% if m.role == 'user' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
         "True"),
        ("{% set a, b = 1, 2 %}{{ b }}{{ a }}",
         "21"),
        ("{% set block %}  inner {{ name }}  {% endset %}[{{ block }}]",
         "[  inner Ember  ]"),
        ("{% macro greet(who, punctuation='!') %}Hi {{ who }}{{ punctuation }}{% endmacro %}{{ greet(name) }} {{ greet('you', punctuation='?') }}",
         "Hi Ember! Hi you?"),
        ("{% set messages = messages[1:] %}{{ messages | length }}",
         "2"),
        ("{% if flag %}yes{% elif nothing %}no{% else %}neither{% endif %}",
         "yes"),
        ("{% if nothing %}a{% elif n > 5 %}b{% else %}c{% endif %}",
         "b"),
    ]

    static let expressions: [(String, String)] = [
        ("{{ 'it\\'s' }} {{ \"tab\\there\" }} {{ 'uni\\u00e9' }} {{ 'a' 'b' }}",
         "it's tab\there unié ab"),
        ("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 2 ** -1 }}",
         "7 9 3.5 3 -4 1 2 1024 0.5"),
        ("{{ 1.5 + 1 }} {{ 0.1 + 0.2 }} {{ 1e20 }} {{ 1e-5 }} {{ 3.0 }} {{ -0.5 }}",
         "2.5 0.30000000000000004 1e+20 1e-05 3.0 -0.5"),
        ("{{ 'a' + 'b' }} {{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ [1] + [2] }}",
         "ab a1NoneTrue ababab [1, 2]"),
        ("{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 1 == 1.0 }} {{ true == 1 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }}",
         "True False True True True True"),
        ("{{ 'ell' in 'hello' }} {{ 2 in numbers }} {{ 'a' in d }} {{ 'z' not in d }} {{ not flag }}",
         "True True True True False"),
        ("{{ flag and 'yes' }} {{ nothing or 'fallback' }} {{ 0 or '' }}|{{ [] and 1 }}",
         "yes fallback |[]"),
        ("{{ 'big' if n > 5 else 'small' }} {{ 'shown' if flag }}|{{ 'hidden' if nothing }}|",
         "big shown||"),
        ("{{ messages[1]['content'] }} {{ messages[1].content }} {{ messages[-1].role }} {{ d['a'] }} {{ numbers.0 }}",
         "Hi Hi assistant 2 3"),
        ("{{ numbers[1:] }} {{ numbers[:-1] }} {{ numbers[::-1] }} {{ name[1:3] }} {{ name[::-1] }} {{ name[-2:] }} {{ numbers[5:] }}",
         "[1, 2] [3, 1] [2, 1, 3] mb rebmE er []"),
        ("{{ [1, 'a', none, true, 1.5] }} {{ {'k': 'v', 'n': [1]} }} {{ (1, 2) | list }} {{ nothing }} {{ d }}",
         "[1, 'a', None, True, 1.5] {'k': 'v', 'n': [1]} [1, 2] None {'b': 1, 'a': 2}"),
        ("{{ -n }} {{ +x }} {{ -(n + 1) }}",
         "-7 2.5 -8"),
    ]

    static let filters: [(String, String)] = [
        ("[{{ '  pad  ' | trim }}] [{{ 'xxhixx' | trim('x') }}] {{ name | upper }} {{ name | lower }} {{ 'hello world' | capitalize }} {{ 'hello big-world' | title }}",
         "[pad] [hi] EMBER ember Hello world Hello Big-World"),
        ("{{ numbers | length }} {{ name | length }} {{ d | count }} {{ numbers | first }} {{ numbers | last }} {{ name | first }}",
         "3 5 2 3 2 E"),
        ("{{ numbers | join(', ') }} {{ messages | map(attribute='role') | join('/') }} {{ messages | join('-', attribute='role') }}",
         "3, 1, 2 system/user/assistant system-user-assistant"),
        ("{{ undefined_thing | default('dflt') }} {{ '' | default('empty', true) }} {{ '' | default('kept') }}|{{ nothing | default('none stays') }}",
         "dflt empty |None"),
        ("{{ 42 | string }}{{ '3' | int + 1 }} {{ '2.5' | float }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }}",
         "424 2.5 0 7 3"),
        ("{{ numbers | list }} {{ name | list }} {{ numbers | reverse | list }} {{ name | reverse }} {{ numbers | sort }} {{ numbers | sort(reverse=true) }}",
         "[3, 1, 2] ['E', 'm', 'b', 'e', 'r'] [2, 1, 3] rebmE [1, 2, 3] [3, 2, 1]"),
        ("{{ 'a-b-c' | replace('-', '+') }} {{ 'aaa' | replace('a', 'b', 2) }}",
         "a+b+c bba"),
        ("{{ messages | selectattr('role', 'equalto', 'user') | list | length }} {{ messages | rejectattr('role', 'equalto', 'user') | map(attribute='role') | list }}",
         "1 ['system', 'assistant']"),
        ("{{ numbers | select('odd') | list }} {{ numbers | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }}",
         "[3, 1] [2] [1, 'a']"),
        ("{% for k, v in d | items %}{{ k }}{{ v }}{% endfor %} {% for k, v in d | dictsort %}{{ k }}{{ v }}{% endfor %} {{ numbers | sum }} {{ numbers | max }} {{ numbers | min }} {{ [1, 2, 1] | unique | list }}",
         "b1a2 a2b1 6 3 1 [1, 2]"),
        ("{{ '<b>' | safe }} {{ '<a href=\"x\">' | e }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }}",
         "<b> &lt;a href=&#34;x&#34;&gt; 3 2.57 2.0"),
        ("{{ 'a\\nb\\n\\nc' | indent(2) }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}",
         "a\n  b\n\n  c|  a\n  b|a\n  \n  b"),
        ("{{ messages | map('upper') | list if false else numbers | map('string') | list }}",
         "['3', '1', '2']"),
    ]

    static let json: [(String, String)] = [
        ("{{ d | tojson }} {{ numbers | tojson }} {{ 'quote \" backslash \\\\ newline \\n tab \\t <&>\\'' | tojson }} {{ nothing | tojson }} {{ flag | tojson }} {{ x | tojson }}",
         "{\"b\": 1, \"a\": 2} [3, 1, 2] \"quote \\\" backslash \\\\ newline \\n tab \\t <&>'\" null true 2.5"),
        ("{{ messages[0] | tojson(indent=2) }}",
         "{\n  \"role\": \"system\",\n  \"content\": \" Be brief. \"\n}"),
        ("{{ {'a': [], 'b': {}, 'c': [1, {'d': none}]} | tojson(indent=4) }}",
         "{\n    \"a\": [],\n    \"b\": {},\n    \"c\": [\n        1,\n        {\n            \"d\": null\n        }\n    ]\n}"),
        ("{{ 'Zürich 🌍' | tojson }} {{ 'Zürich 🌍' | tojson(ensure_ascii=true) }} {{ d | tojson(sort_keys=true) }} {{ d | tojson(separators=[',', ':']) }}",
         "\"Zürich 🌍\" \"Z\\u00fcrich \\ud83c\\udf0d\" {\"a\": 2, \"b\": 1} {\"b\":1,\"a\":2}"),
    ]

    static let methods: [(String, String)] = [
        ("[{{ '  x  '.strip() }}][{{ '  x  '.lstrip() }}][{{ '  x  '.rstrip() }}][{{ '--x--'.strip('-') }}]",
         "[x][x  ][  x][x]"),
        ("{{ name.startswith('Em') }} {{ name.endswith('er') }} {{ name.startswith(('x', 'E')) }} {{ name.upper() }} {{ name.lower() }} {{ 'they are here'.title() }}",
         "True True True EMBER ember They Are Here"),
        ("{{ 'a,b,,c'.split(',') }} {{ '  a  b  '.split() }} {{ 'a,b,c'.split(',', 1) }} {{ '<think>x</think>answer'.split('</think>')[-1] }}",
         "['a', 'b', '', 'c'] ['a', 'b'] ['a', 'b,c'] answer"),
        ("{{ 'aXbXc'.replace('X', '') }} {{ ', '.join(['a', 'b']) }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }}",
         "abc a, b 2 2"),
        ("{{ d.keys() | list }} {{ d.values() | list }} {{ d.get('a') }} {{ d.get('z', 'missing') }} {{ d.get('z') }}",
         "['b', 'a'] [1, 2] 2 missing None"),
    ]

    static let predicates: [(String, String)] = [
        ("{{ name is defined }} {{ missing is defined }} {{ missing is undefined }} {{ nothing is none }} {{ nothing is not none }}",
         "True False True True False"),
        ("{{ name is string }} {{ n is string }} {{ n is number }} {{ x is number }} {{ flag is number }} {{ n is integer }} {{ x is float }} {{ flag is boolean }}",
         "True False True True True True True True"),
        ("{{ d is mapping }} {{ numbers is mapping }} {{ numbers is iterable }} {{ name is iterable }} {{ n is iterable }} {{ d is sequence }} {{ missing is iterable }}",
         "True False True True False True True"),
        ("{{ n is odd }} {{ n is even }} {{ 9 is divisibleby 3 }} {{ n is divisibleby(2) }} {{ 'a' is in 'abc' }} {{ n is eq 7 }} {{ n is ne 7 }} {{ n is gt 3 }} {{ n is lt 3 }}",
         "True False True False True True False True False"),
        ("{{ flag is true }} {{ flag is false }} {{ nothing is sameas none }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ raise_exception is callable }} {{ name is callable }}",
         "True False True True True True False"),
    ]

    static let undefinedValues: [(String, String)] = [
        ("[{{ missing }}] [{{ messages[0].missing }}] [{{ messages[9] }}] [{{ d.missing }}] [{{ name.missing }}] [{{ nothing.missing }}]",
         "[] [] [] [] [] []"),
        ("{% if missing %}yes{% else %}no{% endif %} {{ missing | length }} {{ missing ~ 'x' }} {{ missing == missing }} {{ missing == none }}",
         "no 0 x True False"),
        ("{% for x in missing %}x{% else %}empty{% endfor %} {{ missing | default('d') }} {{ 'a' in missing }} {{ missing | trim }}|",
         "empty d False |"),
        ("{{ strftime_now is defined }} {{ raise_exception is defined }} {{ namespace is defined }} {{ range(3) | list }}",
         "True True True [0, 1, 2]"),
    ]
}
