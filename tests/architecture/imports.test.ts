/**
 * The project's layers, as its imports show them: no import cycle anywhere, no import that points
 * up a layer, and a pure topology/ that reaches neither the file system nor the process. The
 * graph functions are proven first on graphs small enough to check by eye.
 */
import { strict as assert } from "assert";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import {
    buildImportGraph,
    builtinImports,
    fileEdges,
    findCycles,
    ImportGraph,
    importSpecifiers,
    ioGlobalUses,
    LayerRule,
    layerViolations,
    projectFiles,
    relativeImportsInto,
    relativeImportsOutOf,
    tangles,
    unresolvedImports,
    workspacePackages,
} from "./importGraph";

const ROOT = path.resolve(__dirname, "..", "..");
const SCANNED = ["index.ts", "topology", "components", "policies", "tools", "bench", "tests", "toolchain"];

const LAYERS: readonly LayerRule[] = [
    // The pure rules: shared by the program, the plan and the policy pack, so they import only each other.
    { layer: "topology", onlyFrom: ["topology"] },
    { layer: "components", forbidden: ["tools", "tests", "bench"] },
    // The pack judges the program's graph; it must not be built from the program it judges.
    { layer: "policies", forbidden: ["components", "tools", "tests", "bench"] },
    { layer: "tools", forbidden: ["tests", "bench"] },
];

/** The rules every other module builds on; they take the shapes of topology/types.ts and nothing else. */
const TOPOLOGY_RULES = ["topology/quorum.ts", "topology/capacity.ts", "topology/ip.ts", "topology/phaseOrder.ts", "topology/phases.ts"];

/** Node modules topology/ may use: hashing is computation (mac.ts derives MACs), not I/O. */
const TOPOLOGY_ALLOWED_BUILTINS = ["crypto"];

const graphOf = (edges: Record<string, string[]>): Map<string, string[]> => new Map(Object.entries(edges));
const showCycle = (cycle: readonly string[]): string => cycle.join(" -> ");

describe("import graph: the cycle finder and the layer rules on small graphs", () => {
    it("finds a three-file cycle and names its files in import order, from the smallest", () => {
        assert.deepEqual(findCycles(graphOf({ "c.ts": ["a.ts"], "a.ts": ["b.ts"], "b.ts": ["c.ts"], "d.ts": ["a.ts"] })), [["a.ts", "b.ts", "c.ts", "a.ts"]]);
    });

    it("finds nothing in a graph without cycles, diamonds included", () => {
        assert.deepEqual(findCycles(graphOf({ "a.ts": ["b.ts", "c.ts"], "b.ts": ["d.ts"], "c.ts": ["d.ts"], "d.ts": [] })), []);
    });

    it("finds a file that imports itself, and each separate cycle once", () => {
        const cycles = findCycles(graphOf({ "a.ts": ["a.ts"], "b.ts": ["c.ts"], "c.ts": ["b.ts"], "x.ts": ["y.ts"], "y.ts": ["z.ts"], "z.ts": ["x.ts", "b.ts"] }));
        assert.deepEqual(cycles.map(showCycle), ["a.ts -> a.ts", "b.ts -> c.ts -> b.ts", "x.ts -> y.ts -> z.ts -> x.ts"]);
    });

    it("reports the shortest way round a tangle of several cycles (the 7-file one in topology/ was such a tangle)", () => {
        // config imports clusterOps, kubeadm and loadBalancer; each imports config back; kubeadm also goes through plan.
        const tangle = graphOf({
            "config.ts": ["clusterOps.ts", "kubeadm.ts", "loadBalancer.ts"],
            "clusterOps.ts": ["config.ts"],
            "kubeadm.ts": ["plan.ts", "config.ts"],
            "plan.ts": ["config.ts"],
            "loadBalancer.ts": ["config.ts"],
        });
        assert.deepEqual(findCycles(tangle), [["clusterOps.ts", "config.ts", "clusterOps.ts"]]);
        assert.deepEqual(tangles(tangle), [["clusterOps.ts", "config.ts", "kubeadm.ts", "loadBalancer.ts", "plan.ts"]]);
    });

    it("reads every kind of import: type-only, re-export, import = require, require, dynamic import, import() types", () => {
        const text = [
            'import { a } from "./a";',
            'import type { B } from "./b";',
            'export * from "./c";',
            'export { d } from "./d";',
            'import e = require("./e");',
            'const f = require("./f");',
            'async function g() { return import("./g"); }',
            'let h: import("./h").H;',
            'import "./i";',
            'const notAnImport = "./j";',
        ].join("\n");
        assert.deepEqual(importSpecifiers("x.ts", text).map((i) => i.specifier), ["./a", "./b", "./c", "./d", "./e", "./f", "./g", "./h", "./i"]);
        assert.deepEqual(importSpecifiers("x.ts", text).map((i) => i.line), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    });

    it("refuses an import up a layer and lets the same import down pass", () => {
        const graph: ImportGraph = new Map([
            ["topology/a.ts", [{ specifier: "../components/b", target: "components/b.ts", line: 3 }]],
            ["components/b.ts", [{ specifier: "../topology/a", target: "topology/a.ts", line: 1 }, { specifier: "../tools/t", target: "tools/t.ts", line: 2 }]],
            ["tools/t.ts", [{ specifier: "../components/b", target: "components/b.ts", line: 1 }]],
        ]);
        assert.deepEqual(layerViolations(graph, LAYERS), [
            "topology/a.ts:3 imports components/b.ts (topology -> components)",
            "components/b.ts:2 imports tools/t.ts (components -> tools)",
        ]);
    });

    it("names node built-ins in topology/ whichever way they are spelled, and the I/O globals", () => {
        const graph: ImportGraph = new Map([
            ["topology/a.ts", [{ specifier: "fs", line: 1 }, { specifier: "node:path", line: 2 }, { specifier: "fs/promises", line: 3 }, { specifier: "crypto", line: 4 }, { specifier: "yaml", line: 5 }]],
        ]);
        assert.deepEqual(builtinImports(graph, "topology", TOPOLOGY_ALLOWED_BUILTINS), ["topology/a.ts:1 imports fs", "topology/a.ts:2 imports node:path", "topology/a.ts:3 imports fs/promises"]);
        const uses = ioGlobalUses("a.ts", "const root = __dirname;\nconst x = { process: 1 }.process;\nif (process.env.X) {}\n");
        assert.deepEqual(uses, [{ name: "__dirname", line: 1 }, { name: "process", line: 3 }]);
    });

    describe("on files on disk", () => {
        let dir: string;
        before(() => {
            dir = mkdtempSync(path.join(tmpdir(), "hacp-imports-"));
            mkdirSync(path.join(dir, "pkg"));
            writeFileSync(path.join(dir, "pkg", "index.ts"), 'export * from "./types";\nexport * from "./reader";\n');
            writeFileSync(path.join(dir, "pkg", "types.ts"), 'import type { read } from "./reader";\nexport type R = typeof read;\n');
            writeFileSync(path.join(dir, "pkg", "reader.ts"), 'import type { R } from ".";\nexport const read = (r?: R) => r;\n');
            writeFileSync(path.join(dir, "main.ts"), 'import { read } from "./pkg";\nimport { gone } from "./missing";\nread(); gone();\n');
        });
        after(() => rmSync(dir, { recursive: true, force: true }));

        it("resolves folders to their index.ts and finds a cycle made of type imports alone", () => {
            const graph = buildImportGraph(dir, projectFiles(dir, ["main.ts", "pkg"]));
            assert.deepEqual(findCycles(fileEdges(graph)).map(showCycle), ["pkg/index.ts -> pkg/reader.ts -> pkg/index.ts"]);
            assert.deepEqual(unresolvedImports(graph), ["main.ts:2 imports ./missing, which is no file"]);
        });
    });

    describe("on a workspace package imported by name", () => {
        let dir: string;
        before(() => {
            dir = mkdtempSync(path.join(tmpdir(), "hacp-imports-ws-"));
            writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "root", workspaces: ["rules", "pack"] }));
            for (const folder of ["rules", "pack"]) mkdirSync(path.join(dir, folder));
            writeFileSync(path.join(dir, "rules", "package.json"), JSON.stringify({ name: "@x/rules", main: "index.ts" }));
            writeFileSync(path.join(dir, "pack", "package.json"), JSON.stringify({ name: "x-pack", main: "index.ts" }));
            writeFileSync(path.join(dir, "rules", "index.ts"), 'export * from "./quorum";\n');
            // A rule that reaches back into the pack by its name: an upward import, and a cycle.
            writeFileSync(path.join(dir, "rules", "quorum.ts"), 'import type { P } from "x-pack";\nexport const quorum = (n: number, _p?: P) => Math.floor(n / 2) + 1;\n');
            writeFileSync(path.join(dir, "pack", "index.ts"), 'import { quorum } from "@x/rules";\nimport { gone } from "@x/rules/missing";\nimport "../rules/quorum";\nexport type P = typeof quorum | typeof gone;\n');
        });
        after(() => rmSync(dir, { recursive: true, force: true }));

        it("resolves the package's name to its folder's index.ts and a subpath to its file, and sees the cycle through them", () => {
            const packages = workspacePackages(dir);
            assert.deepEqual([...packages], [["@x/rules", "rules"], ["x-pack", "pack"]]);
            const graph = buildImportGraph(dir, projectFiles(dir, ["rules", "pack"]), packages);
            assert.deepEqual(graph.get("pack/index.ts")!.map((e) => e.target), ["rules/index.ts", undefined, "rules/quorum.ts"]);
            assert.deepEqual(findCycles(fileEdges(graph)).map(showCycle), ["pack/index.ts -> rules/quorum.ts -> pack/index.ts"]);
            assert.deepEqual(unresolvedImports(graph, packages), ["pack/index.ts:2 imports @x/rules/missing, which is no file"]);
            const rules: LayerRule[] = [{ layer: "rules", onlyFrom: ["rules"] }];
            assert.deepEqual(layerViolations(graph, rules), ["rules/quorum.ts:1 imports pack/index.ts (rules -> pack)"]);
        });

        it("names a relative import that leaves a package's folder", () => {
            const graph = buildImportGraph(dir, projectFiles(dir, ["rules", "pack"]));
            assert.deepEqual(relativeImportsOutOf(graph, "pack"), ["pack/index.ts:3 imports ../rules/quorum (rules/quorum.ts), outside pack/"]);
            assert.deepEqual(relativeImportsOutOf(graph, "rules"), []);
        });

        it("names a relative import into a package's folder from outside it, not one by the package's name", () => {
            const graph = buildImportGraph(dir, projectFiles(dir, ["rules", "pack"]));
            assert.deepEqual(relativeImportsInto(graph, "rules"), ["pack/index.ts:3 imports ../rules/quorum (rules/quorum.ts), not by the package's name"]);
            assert.deepEqual(relativeImportsInto(graph, "pack"), []);
        });
    });
});

describe("import graph of this project", () => {
    const files = projectFiles(ROOT, SCANNED);
    const packages = workspacePackages(ROOT);
    const graph = buildImportGraph(ROOT, files, packages);

    it("knows the workspace packages: the pure layer and the policy pack", () => {
        assert.equal(packages.get("@ha-control-plane/topology"), "topology");
        assert.equal(packages.get("ha-control-plane-policies"), "policies");
    });

    it("the policy pack reaches the pure layer by its package name only, so the pack's folder stands alone", () => {
        assert.deepEqual(relativeImportsOutOf(graph, "policies"), []);
        assert.deepEqual(relativeImportsOutOf(graph, "topology"), []);
        const byName = [...graph].filter(([f]) => f.startsWith("policies/")).flatMap(([, edges]) => edges.filter((e) => e.specifier === "@ha-control-plane/topology"));
        assert.ok(byName.length > 5 && byName.every((e) => e.target === "topology/index.ts"), "the pack's imports of @ha-control-plane/topology are edges to topology/index.ts");
    });

    it("the program, its tools and its tests reach the pure layer by its package name only, as the pack does", () => {
        assert.deepEqual(relativeImportsInto(graph, "topology"), []);
        const byName = [...graph].filter(([f]) => !f.startsWith("topology/")).flatMap(([, edges]) => edges.filter((e) => e.specifier === "@ha-control-plane/topology"));
        assert.ok(byName.length > 50 && byName.every((e) => e.target === "topology/index.ts"));
    });

    it("reads every layer's files", () => {
        for (const layer of SCANNED) assert.ok(files.some((f) => f === layer || f.startsWith(`${layer}/`)), `no .ts file read under ${layer}`);
        assert.ok(!files.some((f) => f.includes("node_modules")), "node_modules is not the project's");
        assert.ok([...graph.values()].flat().filter((e) => e.target).length > files.length, "too few imports resolved: the reader is broken");
    });

    it("every relative or workspace-package import names a file (or its edge would be missing from the graph)", () => {
        assert.deepEqual(unresolvedImports(graph, packages), []);
    });

    it("has no import cycle, type-only imports included", () => {
        const edges = fileEdges(graph);
        const cycles = findCycles(edges);
        const report = tangles(edges).map((files, i) => `  ${showCycle(cycles[i])}\n    (one of the cycles among ${files.length} files: ${files.join(", ")})`);
        assert.deepEqual(cycles.map(showCycle), [], `import cycles:\n${report.join("\n")}`);
    });

    it("has no import up a layer", () => {
        assert.deepEqual(layerViolations(graph, LAYERS), []);
    });

    it("topology/types.ts imports nothing, and the rules (quorum, capacity, IP, phase order) import only types", () => {
        assert.deepEqual(graph.get("topology/types.ts"), []);
        for (const rule of TOPOLOGY_RULES) {
            assert.ok(graph.has(rule), `${rule} is gone: update TOPOLOGY_RULES`);
            const imports = graph.get(rule)!.filter((e) => e.target !== undefined && e.target !== "topology/types.ts");
            assert.deepEqual(imports.map((e) => `${rule}:${e.line} imports ${e.target}`), []);
        }
    });

    it("topology/ imports no node built-in that does I/O and touches neither the file system's paths nor the process", () => {
        assert.deepEqual(builtinImports(graph, "topology", TOPOLOGY_ALLOWED_BUILTINS), []);
        const uses = files
            .filter((f) => f.startsWith("topology/"))
            .flatMap((f) => ioGlobalUses(f, readFileSync(path.join(ROOT, f), "utf8")).map((u) => `${f}:${u.line} uses ${u.name}`));
        assert.deepEqual(uses, []);
    });
});
