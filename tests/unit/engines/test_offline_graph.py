"""Import resolution per language, and the labelled edges of the dependency graph."""

from __future__ import annotations

from pathlib import Path

from analysis.offline.graph import CodeGraph, build_graph
from analysis.offline.index import FactsMemo, Limits, build_index
from fondation.cancel import CancelToken
from tests.unit.engines.conftest import Writer


def graph_of(root: Path, work: Path) -> CodeGraph:
    index = build_index(root, work, Limits(), CancelToken(), FactsMemo())
    return build_graph(index, CancelToken())


def kinds(graph: CodeGraph, source: str, target: str) -> set[str]:
    assert graph.files.has_edge(source, target), f"no edge {source} -> {target}"
    return set(graph.edge(source, target)["lines"])


def test_python_absolute_relative_and_submodule_imports(shop: Path, tmp_path: Path) -> None:
    graph = graph_of(shop, tmp_path / "work")
    assert kinds(graph, "shop/storage/memory.py", "shop/storage/base.py") == {
        "imports",
        "inherits",
    }
    # `self.items: dict[str, Item]`: a type named in an annotation is a use.
    assert kinds(graph, "shop/storage/memory.py", "shop/models.py") == {"imports", "uses"}
    assert kinds(graph, "shop/storage/files.py", "shop/storage/base.py") == {
        "imports",
        "inherits",
    }
    # `from shop import pricing` is the submodule, not the package.
    assert kinds(graph, "shop/service.py", "shop/pricing.py") == {"imports", "calls"}
    assert kinds(graph, "shop/service.py", "shop/models.py") == {"imports", "calls", "uses"}
    assert not graph.files.has_edge("shop/service.py", "shop/__init__.py")
    assert graph.edge("shop/service.py", "shop/pricing.py")["names"]["calls"] == {"total"}
    assert graph.calls.has_edge("shop/service.py::Cart.checkout", "shop/pricing.py::total")
    assert graph.subclasses[("shop/storage/base.py", "Storage")] == {
        ("shop/storage/files.py", "FileStorage"),
        ("shop/storage/memory.py", "MemoryStorage"),
    }
    assert graph.module_names["shop/storage/__init__.py"] == "shop.storage"


def test_python_names_reexported_by_a_package_resolve_to_their_definition(
    tmp_path: Path, write: Writer
) -> None:
    root = write(
        tmp_path / "repo",
        {
            "pkg/__init__.py": "from pkg.core import Engine\n",
            "pkg/core.py": "class Engine:\n    pass\n",
            "app.py": "from pkg import Engine\n\n\ndef main():\n    return Engine()\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    assert kinds(graph, "app.py", "pkg/__init__.py") == {"imports"}
    assert kinds(graph, "app.py", "pkg/core.py") == {"calls"}
    assert graph.calls.has_edge("app.py::main", "pkg/core.py::Engine")


def test_javascript_and_typescript_relative_imports(tmp_path: Path, write: Writer) -> None:
    root = write(
        tmp_path / "repo",
        {
            "src/app.js": "import { util } from './util';\nconst lib = require('./lib');\n"
            "export function run() { return util(lib.x); }\n",
            "src/util.js": "export function util(x) { return x; }\n",
            "src/lib/index.js": "module.exports = { x: 1 };\n",
            "web/main.ts": "import { Service } from './service.js';\n"
            "export class App extends Service {}\n",
            "web/service.ts": "export class Service {}\n",
            "web/view.tsx": "import { App } from './main';\n"
            "export const View = () => <div>{new App()}</div>;\n",
            "web/pkg.ts": "import React from 'react';\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    assert kinds(graph, "src/app.js", "src/util.js") == {"imports", "calls"}
    assert kinds(graph, "src/app.js", "src/lib/index.js") == {"imports"}
    assert kinds(graph, "web/main.ts", "web/service.ts") == {"imports", "inherits"}
    assert kinds(graph, "web/view.tsx", "web/main.ts") == {"imports", "calls"}
    assert list(graph.files.successors("web/pkg.ts")) == []


def test_go_imports_resolve_through_the_module_path(tmp_path: Path, write: Writer) -> None:
    root = write(
        tmp_path / "repo",
        {
            "go.mod": "module example.com/shop\n\ngo 1.22\n",
            "main.go": 'package main\n\nimport "example.com/shop/pkg/store"\n\n'
            "func main() { store.Open() }\n",
            "pkg/store/store.go": "package store\n\nfunc Open() {}\n",
            "pkg/store/extra.go": "package store\n\nfunc Close() {}\n",
            "pkg/store/store_test.go": "package store\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    assert kinds(graph, "main.go", "pkg/store/store.go") == {"imports", "calls"}
    assert kinds(graph, "main.go", "pkg/store/extra.go") == {"imports"}
    assert not graph.files.has_edge("main.go", "pkg/store/store_test.go")


def test_java_imports_by_class_and_package(tmp_path: Path, write: Writer) -> None:
    base = "src/main/java/com/ex"
    root = write(
        tmp_path / "repo",
        {
            f"{base}/app/App.java": "package com.ex.app;\n\nimport com.ex.lib.Base;\n"
            "import com.ex.util.*;\n\npublic class App extends Base {\n"
            "    void go() { Helper.help(); new Sibling(); }\n}\n",
            f"{base}/app/Sibling.java": "package com.ex.app;\n\npublic class Sibling {}\n",
            f"{base}/lib/Base.java": "package com.ex.lib;\n\npublic class Base {}\n",
            f"{base}/util/Helper.java": "package com.ex.util;\n\npublic class Helper {\n"
            "    public static void help() {}\n}\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    app = f"{base}/app/App.java"
    assert kinds(graph, app, f"{base}/lib/Base.java") == {"imports", "inherits"}
    assert kinds(graph, app, f"{base}/util/Helper.java") == {"imports", "calls"}
    assert kinds(graph, app, f"{base}/app/Sibling.java") == {"calls"}  # same package


def test_rust_mod_declarations_and_crate_paths(tmp_path: Path, write: Writer) -> None:
    root = write(
        tmp_path / "repo",
        {
            "Cargo.toml": '[package]\nname = "net"\n',
            "src/lib.rs": "mod net;\npub mod util;\n",
            "src/net/mod.rs": "use crate::util::helper;\nmod tcp;\n"
            "pub fn send() -> i32 { helper(1) }\n",
            "src/net/tcp.rs": "use super::send;\npub fn go() -> i32 { send() }\n",
            "src/util.rs": "pub fn helper(x: i32) -> i32 { x }\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    assert kinds(graph, "src/lib.rs", "src/net/mod.rs") == {"imports"}
    assert kinds(graph, "src/lib.rs", "src/util.rs") == {"imports"}
    assert kinds(graph, "src/net/mod.rs", "src/util.rs") == {"imports", "calls"}
    assert kinds(graph, "src/net/mod.rs", "src/net/tcp.rs") == {"imports"}
    assert kinds(graph, "src/net/tcp.rs", "src/net/mod.rs") == {"imports", "calls"}


def test_c_includes_next_to_the_file_and_on_include_paths(tmp_path: Path, write: Writer) -> None:
    root = write(
        tmp_path / "repo",
        {
            "src/main.c": '#include "util.h"\n#include <lib/api.h>\n#include <stdio.h>\n'
            "int main(void) { return twice(api()); }\n",
            "src/util.h": "int twice(int x);\n",
            "include/lib/api.h": "int api(void);\n",
            "src/widget.cpp": '#include "widget.hpp"\nint Widget::size() const { return 1; }\n',
            "src/widget.hpp": "class Widget { public: int size() const; };\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    assert kinds(graph, "src/main.c", "src/util.h") == {"imports", "calls"}
    assert kinds(graph, "src/main.c", "include/lib/api.h") == {"imports", "calls"}
    assert kinds(graph, "src/widget.cpp", "src/widget.hpp") == {"imports"}


def test_pagerank_favours_what_many_files_depend_on(shop: Path, tmp_path: Path) -> None:
    graph = graph_of(shop, tmp_path / "work")
    ranked = sorted(graph.rank, key=lambda p: -graph.rank[p])
    assert ranked[0] == "shop/models.py"
    assert abs(sum(graph.rank.values()) - 1.0) < 1e-6


def test_go_files_of_one_package_call_embed_implement_and_use_each_others_names(
    tmp_path: Path, write: Writer
) -> None:
    root = write(
        tmp_path / "gopkg",
        {
            "go.mod": "module example.com/cli\n",
            "app.go": "package cli\n\ntype App struct {\n\tCommands []Command\n}\n\n"
            "func (a *App) Run() error { return runAll(a.Commands) }\n",
            "command.go": "package cli\n\ntype Command struct {\n\tBase\n}\n\n"
            "func runAll(c []Command) error { return nil }\n\n"
            'func (c Command) Name() string { return "" }\n',
            "base.go": "package cli\n\ntype Base struct{}\n\n"
            "type Named interface {\n\tName() string\n}\n",
            "app_test.go": "package cli\n\nfunc TestRun(t *T) { (&App{}).Run() }\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    assert kinds(graph, "app.go", "command.go") == {"uses", "calls"}
    assert graph.edge("app.go", "command.go")["names"]["calls"] == {"runAll"}
    assert graph.edge("app.go", "command.go")["names"]["uses"] == {"Command"}
    assert {"inherits", "implements"} <= kinds(graph, "command.go", "base.go")
    assert graph.edge("command.go", "base.go")["names"]["implements"] == {"Named"}
    assert graph.subclasses[("base.go", "Named")] == {("command.go", "Command")}
    assert graph.calls.has_edge("app.go::App.Run", "command.go::runAll")
    assert kinds(graph, "app_test.go", "app.go") == {"uses"}
    # No import carries a same-package edge, so its first use gives it weight.
    assert graph.edge("app.go", "command.go")["weight"] == 1.0


def test_javascript_uses_resolve_through_an_index_that_reexports(
    tmp_path: Path, write: Writer
) -> None:
    root = write(
        tmp_path / "jsre",
        {
            "src/index.ts": "export * from './command';\n"
            "export { helper as help } from './util';\n",
            "src/command.ts": "export class Command { run() {} }\n",
            "src/util.ts": "export function helper() { return 1; }\n",
            "src/main.ts": "import { Command, help } from './index';\n"
            "export function main() { help(); return new Command(); }\n",
            "lib/scan.js": "const scan = (input) => input;\nmodule.exports = scan;\n",
            "lib/api.js": "const scan = require('./scan');\n"
            "const api = () => 1;\napi.scan = (x) => scan(x);\nmodule.exports = api;\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    assert graph.edge("src/main.ts", "src/command.ts")["names"]["calls"] == {"Command"}
    assert graph.edge("src/main.ts", "src/util.ts")["names"]["calls"] == {"helper"}
    assert graph.edge("lib/api.js", "lib/scan.js")["names"]["calls"] == {"scan"}
    assert graph.facts["lib/api.js"].symbol("api.scan") is not None


def test_java_classes_of_one_package_are_related_and_interfaces_are_implemented(
    tmp_path: Path, write: Writer
) -> None:
    root = write(
        tmp_path / "jpkg",
        {
            "src/com/x/App.java": "package com.x;\n\npublic class App extends Base "
            "implements Runner {\n    public void run() { Helper.make(); }\n}\n",
            "src/com/x/Helper.java": "package com.x;\n\npublic class Helper {\n"
            "    public static Helper make() { return new Helper(); }\n}\n",
            "src/com/x/Base.java": "package com.x;\n\npublic abstract class Base {}\n",
            "src/com/x/Runner.java": "package com.x;\n\npublic interface Runner { void run(); }\n",
        },
    )
    graph = graph_of(root, tmp_path / "work")
    assert kinds(graph, "src/com/x/App.java", "src/com/x/Runner.java") == {"implements"}
    assert kinds(graph, "src/com/x/App.java", "src/com/x/Base.java") == {"inherits"}
    assert kinds(graph, "src/com/x/App.java", "src/com/x/Helper.java") == {"calls"}
    assert graph.edge("src/com/x/App.java", "src/com/x/Helper.java")["weight"] == 1.0
