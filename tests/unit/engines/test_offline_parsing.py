"""What the parsers extract from each language: symbols, lines, docs, imports, references."""

from __future__ import annotations

import textwrap

from analysis.offline.model import FileFacts
from analysis.offline.parsing import parse_source


def parse(source: str, language: str) -> FileFacts:
    return parse_source(textwrap.dedent(source).lstrip("\n"), language)


def spans(facts: FileFacts) -> dict[str, tuple[str, int, int]]:
    return {s.name: (s.kind, s.start, s.end) for s in facts.symbols}


def test_python_symbols_signatures_docs_and_abstract_methods() -> None:
    facts = parse(
        '''
        """Module doc.

        More.
        """
        import abc
        from .base import Base as B, helper
        __all__ = ["Plugin", "run"]


        class Plugin(B, abc.ABC):
            """A plugin."""

            @abc.abstractmethod
            def handle(self, event: str) -> None:
                """Handle one event."""

            def _private(self):
                raise NotImplementedError


        def run(x: int,
                y: int = 2) -> int:  # the sum
            assert x
            return helper(x) + B.make(y)


        def hidden():
            pass
        ''',
        "python",
    )
    assert facts.doc == "Module doc.\n\nMore."
    assert facts.exports == ["Plugin", "run"]
    assert spans(facts) == {
        "Plugin": ("class", 10, 18),
        "Plugin.handle": ("method", 13, 15),
        "Plugin._private": ("method", 17, 18),
        "run": ("function", 21, 24),
        "hidden": ("function", 27, 28),
    }
    plugin, handle, private, run, hidden = facts.symbols
    assert plugin.signature == "class Plugin(B, abc.ABC)"
    assert plugin.bases == ["B", "abc.ABC"]
    assert plugin.abstract
    assert handle.abstract
    assert handle.doc == "Handle one event."
    assert private.abstract
    assert not private.public
    assert run.signature == "def run(x: int, y: int = 2) -> int"
    assert not hidden.public  # not in __all__
    assert facts.imports[1].spec == ".base"
    assert facts.imports[1].bindings == {"B": "Base", "helper": "helper"}
    assert {(r.kind, r.name, r.scope) for r in facts.references} == {
        ("inherit", "B", "Plugin"),
        ("inherit", "abc.ABC", "Plugin"),  # bound by an import, even if not to this repo
        ("call", "helper", "run"),
        ("call", "B.make", "run"),
    }
    assert facts.asserts == [23]


def test_python_signatures_count_columns_in_bytes_like_ast() -> None:
    facts = parse('def f(x="\u00e9t\u00e9"): return x\nclass \u00c7a: pass\n', "python")
    assert [s.signature for s in facts.symbols] == ['def f(x="\u00e9t\u00e9")', "class \u00c7a"]


def test_python_warnings_about_the_analysed_code_do_not_fail_the_parse() -> None:
    # "\\d" is an invalid escape: Python warns, and pytest turns warnings into errors.
    facts = parse('PATTERN = "\\d+"\n\n\ndef digits():\n    return PATTERN\n', "python")
    assert [s.name for s in facts.symbols] == ["digits"]


def test_python_syntax_errors_still_give_lines_and_leading_comment() -> None:
    facts = parse("# Old code.\nprint 'hello'\n", "python")
    assert (facts.lines, facts.doc, facts.symbols) == (2, "Old code.", [])


def test_typescript_imports_classes_interfaces_and_calls() -> None:
    facts = parse(
        """
        import { A, B as C } from './a';
        import * as ns from "../lib/b";
        import D from './d';
        const r = require('./r');

        /** Does Foo things. */
        export abstract class Foo extends Base implements I {
          /** m doc */
          public m(a: number): string { return ns.f(a); }
          abstract n(): void;
        }

        export interface I { m(a: number): string; }
        export function g(x: number): number { return C(x); }
        export const h = (y: string) => y;
        function local() { expect(g(1)).toBe(1); }
        """,
        "typescript",
    )
    assert spans(facts) == {
        "Foo": ("class", 7, 11),
        "Foo.m": ("method", 9, 9),
        "Foo.n": ("method", 10, 10),
        "I": ("interface", 13, 13),
        "I.m": ("method", 13, 13),
        "g": ("function", 14, 14),
        "h": ("function", 15, 15),
        "local": ("function", 16, 16),
    }
    foo = facts.symbols[0]
    assert foo.doc == "Does Foo things."
    assert foo.bases == ["Base", "I"]
    assert foo.abstract
    assert facts.symbol("Foo.n").abstract  # type: ignore[union-attr]
    assert not facts.symbol("local").public  # type: ignore[union-attr]
    assert [(i.spec, i.bindings) for i in facts.imports] == [
        ("./a", {"A": "A", "C": "B"}),
        ("../lib/b", {"ns": ""}),
        ("./d", {"D": "default"}),
        ("./r", {"r": ""}),
    ]
    assert {(r.name, r.scope) for r in facts.references} == {("ns.f", "Foo.m"), ("C", "g")}
    assert facts.asserts == [16]


def test_go_package_imports_methods_and_interfaces() -> None:
    facts = parse(
        """
        // Package foo does foo.
        package foo

        import (
        \t"fmt"
        \tb "example.com/m/bar"
        )

        // Doer does.
        type Doer interface { Do() error }

        type Thing struct {
        \tb.Base
        \tX int
        }

        // New makes a Thing.
        func New(x int) *Thing { return &Thing{X: b.F(x)} }

        func (t *Thing) Do() error { fmt.Println(t); return nil }
        """,
        "go",
    )
    assert facts.package == "foo"
    assert facts.doc == "Package foo does foo."
    assert spans(facts) == {
        "Doer": ("interface", 10, 10),
        "Doer.Do": ("method", 10, 10),
        "Thing": ("struct", 12, 15),
        "New": ("function", 18, 18),
        "Thing.Do": ("method", 20, 20),
    }
    assert facts.symbol("Thing").bases == ["b.Base"]  # type: ignore[union-attr]
    assert facts.symbol("New").doc == "New makes a Thing."  # type: ignore[union-attr]
    assert [(i.spec, i.bindings) for i in facts.imports] == [
        ("fmt", {"fmt": ""}),
        ("example.com/m/bar", {"b": ""}),
    ]
    assert ("call", "b.F", "New") in {(r.kind, r.name, r.scope) for r in facts.references}


def test_java_package_imports_types_and_abstract_members() -> None:
    facts = parse(
        """
        package com.ex.app;

        import com.ex.lib.Base;
        import com.ex.util.*;

        /** The app. */
        public abstract class App extends Base implements Runnable {
            /** Runs. */
            @Override
            public void run() { Helpers.help(); }
            protected abstract int size();
        }
        """,
        "java",
    )
    assert facts.package == "com.ex.app"
    assert spans(facts) == {
        "App": ("class", 7, 12),
        "App.run": ("method", 9, 10),
        "App.size": ("method", 11, 11),
    }
    app = facts.symbols[0]
    assert app.doc == "The app."
    assert app.bases == ["Base", "Runnable"]
    assert app.abstract
    assert facts.symbol("App.size").abstract  # type: ignore[union-attr]
    assert facts.symbol("App.run").signature == "public void run()"  # type: ignore[union-attr]
    assert [(i.spec, i.bindings) for i in facts.imports] == [
        ("com.ex.lib.Base", {"Base": "Base"}),
        ("com.ex.util.*", {"*": "*"}),
    ]


def test_rust_mods_uses_traits_and_impls() -> None:
    facts = parse(
        """
        //! The crate.
        mod util;
        use crate::net::{Client, self as network};
        use super::x::*;

        /// A thing.
        #[derive(Debug)]
        pub struct Thing { x: i32 }

        /// Doer trait.
        pub trait Doer { fn run(&self) -> i32; }

        impl Doer for Thing {
            fn run(&self) -> i32 { util::helper(self.x) }
        }
        """,
        "rust",
    )
    assert facts.doc == "The crate."
    assert spans(facts) == {
        "Thing": ("struct", 8, 8),
        "Doer": ("trait", 11, 11),
        "Doer.run": ("method", 11, 11),
        "<Thing as Doer>": ("impl", 13, 15),
        "Thing.run": ("method", 14, 14),
    }
    assert facts.symbol("Thing").doc == "A thing."  # type: ignore[union-attr]
    assert facts.symbol("<Thing as Doer>").bases == ["Doer"]  # type: ignore[union-attr]
    assert [(i.spec, i.bindings) for i in facts.imports] == [
        ("mod util", {"util": ""}),
        ("crate::net::Client", {"Client": "Client"}),
        ("crate::net", {"network": "net"}),
        ("super::x::*", {"*": "*"}),
    ]
    assert ("util.helper", "Thing.run") in {(r.name, r.scope) for r in facts.references}


def test_c_and_cpp_functions_records_and_includes() -> None:
    c = parse(
        """
        #ifndef UTIL_H
        #define UTIL_H
        #include "util/helper.h"
        #include <stdio.h>
        /* Adds. */
        int add(int a, int b);
        typedef struct { int x; } point;
        static int twice(int a) { return helper(a) * 2; }
        #endif
        """,
        "c",
    )
    assert [i.spec for i in c.imports] == ["util/helper.h", "<stdio.h>"]
    assert spans(c) == {
        "add": ("function", 6, 6),
        "point": ("struct", 7, 7),
        "twice": ("function", 8, 8),
    }
    assert c.symbol("add").doc == "Adds."  # type: ignore[union-attr]
    assert not c.symbol("twice").public  # type: ignore[union-attr]
    cpp = parse(
        """
        namespace ns {
        // A widget.
        class Widget : public Base {
         public:
          virtual int size() const = 0;
        };
        int Other::size() const { return helper(1); }
        }
        template <typename T> T twice(T x) { return x * 2; }
        """,
        "cpp",
    )
    assert spans(cpp) == {
        "Widget": ("class", 3, 6),
        "Widget.size": ("method", 5, 5),
        "Other.size": ("method", 7, 7),
        "twice": ("function", 9, 9),
    }
    widget = cpp.symbol("Widget")
    assert widget is not None
    assert widget.bases == ["Base"]
    assert widget.abstract
