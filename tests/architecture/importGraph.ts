/**
 * The project's import graph, read with the TypeScript compiler's parser (no type checking, so
 * it is fast and sees every file, compiled or not): every `import`/`export ... from` (type-only
 * too, since a type import still ties two modules' designs together), `import x = require()`,
 * `require()`, dynamic `import()` and `import("...")` types. The rules over it live here as
 * plain functions so the test can prove them on small graphs first.
 */
import { builtinModules } from "module";
import { existsSync, readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";
import * as ts from "typescript";

export interface ImportEdge {
    /** The module as written (`./config`, `fs`, `node:path`). */
    readonly specifier: string;
    /** Project-relative path of the file it resolves to; for relative specifiers and the project's workspace packages. */
    readonly target?: string;
    readonly line: number;
}

/** Project-relative path (forward slashes) to what that file imports. */
export type ImportGraph = ReadonlyMap<string, readonly ImportEdge[]>;

/** Every .ts file under `roots` (files or folders, relative to `root`), node_modules left out. */
export function projectFiles(root: string, roots: readonly string[]): string[] {
    const out: string[] = [];
    const walk = (rel: string): void => {
        const full = path.join(root, rel);
        if (!existsSync(full)) return;
        if (statSync(full).isDirectory()) {
            for (const entry of readdirSync(full).sort()) {
                if (entry === "node_modules" || entry.startsWith(".")) continue;
                walk(path.posix.join(rel, entry));
            }
        } else if (rel.endsWith(".ts")) {
            out.push(rel);
        }
    };
    roots.forEach(walk);
    return out;
}

function stringArgument(node: ts.CallExpression): string | undefined {
    const [first] = node.arguments;
    return first && ts.isStringLiteralLike(first) ? first.text : undefined;
}

/** The module specifiers a source text names, with their line (1-based). */
export function importSpecifiers(fileName: string, text: string): { specifier: string; line: number }[] {
    const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const found: { specifier: string; line: number }[] = [];
    const add = (specifier: string, node: ts.Node): void => {
        found.push({ specifier, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
    };
    const visit = (node: ts.Node): void => {
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteralLike(node.moduleSpecifier)) {
            add(node.moduleSpecifier.text, node);
        } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference) && ts.isStringLiteralLike(node.moduleReference.expression)) {
            add(node.moduleReference.expression.text, node);
        } else if (ts.isCallExpression(node)) {
            const isDynamicImport = node.expression.kind === ts.SyntaxKind.ImportKeyword;
            const isRequire = ts.isIdentifier(node.expression) && node.expression.text === "require";
            const specifier = stringArgument(node);
            if ((isDynamicImport || isRequire) && specifier !== undefined) add(specifier, node);
        } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteralLike(node.argument.literal)) {
            add(node.argument.literal.text, node);
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
}

/** Where a relative specifier from `from` lands: a .ts file, a folder's index.ts, or a file as named (JSON). */
export function resolveRelative(root: string, from: string, specifier: string): string | undefined {
    const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
    for (const candidate of [`${base}.ts`, `${base}/index.ts`, base]) {
        const full = path.join(root, candidate);
        if (existsSync(full) && statSync(full).isFile()) return candidate;
    }
    return undefined;
}

/**
 * The project's own workspace packages (the root package.json's `workspaces`), by package name:
 * the folder each is. An import of one by name (`@ha-control-plane/topology`) is an edge into
 * that folder, as much as a relative import is.
 */
export function workspacePackages(root: string): Map<string, string> {
    const packages = new Map<string, string>();
    const rootManifest = path.join(root, "package.json");
    if (!existsSync(rootManifest)) return packages;
    const { workspaces } = JSON.parse(readFileSync(rootManifest, "utf8")) as { workspaces?: string[] };
    for (const folder of workspaces ?? []) {
        const manifest = path.join(root, folder, "package.json");
        if (!existsSync(manifest)) continue;
        const { name } = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string };
        if (name) packages.set(name, path.posix.normalize(folder));
    }
    return packages;
}

/** The workspace package a specifier names (`@scope/name` or `@scope/name/sub/path`), if any. */
export function workspacePackageOf(specifier: string, packages: ReadonlyMap<string, string>): { name: string; folder: string; subpath: string } | undefined {
    for (const [name, folder] of packages) {
        if (specifier === name) return { name, folder, subpath: "" };
        if (specifier.startsWith(`${name}/`)) return { name, folder, subpath: specifier.slice(name.length + 1) };
    }
    return undefined;
}

/** Where a specifier lands in the project: a relative one from `from`, a workspace package's from its folder. */
export function resolveSpecifier(root: string, from: string, specifier: string, packages: ReadonlyMap<string, string>): string | undefined {
    if (isRelative(specifier)) return resolveRelative(root, from, specifier);
    const pkg = workspacePackageOf(specifier, packages);
    if (!pkg) return undefined;
    // Resolved as from a file at the package's root, so `name` is its index.ts and `name/x` its x.ts.
    return resolveRelative(root, `${pkg.folder}/package.json`, pkg.subpath === "" ? "." : `./${pkg.subpath}`);
}

export function isRelative(specifier: string): boolean {
    return specifier === "." || specifier === ".." || specifier.startsWith("./") || specifier.startsWith("../");
}

export function buildImportGraph(root: string, files: readonly string[], packages: ReadonlyMap<string, string> = workspacePackages(root)): ImportGraph {
    const graph = new Map<string, ImportEdge[]>();
    for (const file of files) {
        const text = readFileSync(path.join(root, file), "utf8");
        graph.set(
            file,
            importSpecifiers(file, text).map(({ specifier, line }) => {
                const target = resolveSpecifier(root, file, specifier, packages);
                return target === undefined ? { specifier, line } : { specifier, target, line };
            }),
        );
    }
    return graph;
}

/** Relative or workspace-package specifiers that name no file: the graph would silently miss their edge. */
export function unresolvedImports(graph: ImportGraph, packages: ReadonlyMap<string, string> = new Map()): string[] {
    const ours = (specifier: string) => isRelative(specifier) || workspacePackageOf(specifier, packages) !== undefined;
    return [...graph].flatMap(([file, edges]) =>
        edges.filter((e) => ours(e.specifier) && e.target === undefined).map((e) => `${file}:${e.line} imports ${e.specifier}, which is no file`),
    );
}

/**
 * Relative imports that leave a workspace package's folder: a package reaches another only by
 * its name, so it still resolves when the CLI loads it from its own folder (the policy pack).
 */
export function relativeImportsOutOf(graph: ImportGraph, folder: string): string[] {
    return [...graph].flatMap(([file, edges]) =>
        file.startsWith(`${folder}/`)
            ? edges.filter((e) => isRelative(e.specifier) && e.target !== undefined && !e.target.startsWith(`${folder}/`)).map((e) => `${file}:${e.line} imports ${e.specifier} (${e.target}), outside ${folder}/`)
            : [],
    );
}

/**
 * Relative imports into a workspace package's folder from outside it: the package is reached by
 * its name, so whoever uses it sees the package's one entry and not a path into its files.
 */
export function relativeImportsInto(graph: ImportGraph, folder: string): string[] {
    return [...graph].flatMap(([file, edges]) =>
        file.startsWith(`${folder}/`)
            ? []
            : edges.filter((e) => isRelative(e.specifier) && e.target?.startsWith(`${folder}/`)).map((e) => `${file}:${e.line} imports ${e.specifier} (${e.target}), not by the package's name`),
    );
}

/**
 * Every import cycle, one per strongly connected component, each as its files in import order
 * with the first repeated at the end: [a, b, c, a] means a imports b, b imports c, c imports a.
 * A file importing itself is a cycle of one. Deterministic: each cycle starts at its smallest
 * file and is the shortest way round from there.
 */
export function findCycles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
    const next = successors(edges);
    return tangles(edges).map((component) => cycleThrough(component, next));
}

const successors = (edges: ReadonlyMap<string, readonly string[]>) => (n: string): string[] => [...new Set(edges.get(n) ?? [])].sort();

/**
 * The strongly connected components that hold a cycle (Tarjan), each sorted, in order of their
 * smallest file: every file of a tangle reaches every other, so breaking one cycle may leave others.
 */
export function tangles(edges: ReadonlyMap<string, readonly string[]>): string[][] {
    const nodes = [...new Set([...edges.keys(), ...[...edges.values()].flat()])].sort();
    const next = successors(edges);
    const index = new Map<string, number>();
    const low = new Map<string, number>();
    const onStack = new Set<string>();
    const stack: string[] = [];
    const components: string[][] = [];
    let counter = 0;
    // Iterative Tarjan, so a long chain of imports cannot overflow the call stack.
    for (const start of nodes) {
        if (index.has(start)) continue;
        const work: { node: string; children: string[]; at: number }[] = [];
        const enter = (node: string): void => {
            index.set(node, counter);
            low.set(node, counter);
            counter++;
            stack.push(node);
            onStack.add(node);
            work.push({ node, children: next(node), at: 0 });
        };
        enter(start);
        while (work.length > 0) {
            const frame = work[work.length - 1];
            if (frame.at < frame.children.length) {
                const child = frame.children[frame.at++];
                if (!index.has(child)) enter(child);
                else if (onStack.has(child)) low.set(frame.node, Math.min(low.get(frame.node)!, index.get(child)!));
                continue;
            }
            work.pop();
            if (work.length > 0) {
                const parent = work[work.length - 1].node;
                low.set(parent, Math.min(low.get(parent)!, low.get(frame.node)!));
            }
            if (low.get(frame.node) === index.get(frame.node)) {
                const component: string[] = [];
                let member: string;
                do {
                    member = stack.pop()!;
                    onStack.delete(member);
                    component.push(member);
                } while (member !== frame.node);
                const selfLoop = component.length === 1 && next(component[0]).includes(component[0]);
                if (component.length > 1 || selfLoop) components.push(component.sort());
            }
        }
    }
    return components.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** One cycle inside a strongly connected component, from its smallest file back to it (shortest, by BFS). */
function cycleThrough(component: readonly string[], next: (n: string) => string[]): string[] {
    const members = new Set(component);
    const start = [...component].sort()[0];
    const cameFrom = new Map<string, string>();
    const queue = [start];
    while (queue.length > 0) {
        const node = queue.shift()!;
        for (const child of next(node)) {
            if (!members.has(child)) continue;
            if (child === start) {
                const path = [node];
                while (path[0] !== start) path.unshift(cameFrom.get(path[0])!);
                return [...path, start];
            }
            if (!cameFrom.has(child)) {
                cameFrom.set(child, node);
                queue.push(child);
            }
        }
    }
    throw new Error(`no cycle through ${start}: not a strongly connected component`);
}

/** The file-to-files edges of the project graph (relative imports that resolve to a file). */
export function fileEdges(graph: ImportGraph): Map<string, string[]> {
    return new Map([...graph].map(([file, edges]) => [file, edges.flatMap((e) => (e.target ? [e.target] : []))]));
}

/** The layer a file belongs to: its top folder, or the file itself at the project root. */
export function layerOf(file: string): string {
    const slash = file.indexOf("/");
    return slash < 0 ? file : file.slice(0, slash);
}

/**
 * Which layers a layer must not import. Lower layers never reach up: the pure rules know nothing
 * of the program, the program nothing of the tools and tests that drive it, the policy pack
 * nothing of the program it judges.
 */
export interface LayerRule {
    readonly layer: string;
    /** Layers it may import; everything else is refused. Exclusive with `forbidden`. */
    readonly onlyFrom?: readonly string[];
    readonly forbidden?: readonly string[];
}

export function layerViolations(graph: ImportGraph, rules: readonly LayerRule[]): string[] {
    const out: string[] = [];
    for (const [file, edges] of graph) {
        const rule = rules.find((r) => r.layer === layerOf(file));
        if (!rule) continue;
        for (const edge of edges) {
            if (!edge.target) continue;
            const to = layerOf(edge.target);
            const refused = rule.onlyFrom ? !rule.onlyFrom.includes(to) : (rule.forbidden ?? []).includes(to);
            if (refused) out.push(`${file}:${edge.line} imports ${edge.target} (${rule.layer} -> ${to})`);
        }
    }
    return out;
}

/** Node's own modules (`fs`, `node:fs`, `fs/promises`), by the runtime's list. */
export function isNodeBuiltin(specifier: string): boolean {
    const name = specifier.startsWith("node:") ? specifier.slice("node:".length) : specifier;
    return builtinModules.includes(name) || builtinModules.includes(name.split("/")[0]);
}

export function builtinImports(graph: ImportGraph, layer: string, allowed: readonly string[]): string[] {
    const out: string[] = [];
    for (const [file, edges] of graph) {
        if (layerOf(file) !== layer) continue;
        for (const edge of edges) {
            const name = edge.specifier.replace(/^node:/, "").split("/")[0];
            if (isNodeBuiltin(edge.specifier) && !allowed.includes(name)) out.push(`${file}:${edge.line} imports ${edge.specifier}`);
        }
    }
    return out;
}

/** Node's globals that reach the file system or the process: a pure module names none of them. */
export const IO_GLOBALS = ["__dirname", "__filename", "process", "require"] as const;

/** Where a source text uses one of IO_GLOBALS as a value (a property or a type of that name does not count). */
export function ioGlobalUses(fileName: string, text: string): { name: string; line: number }[] {
    const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const found: { name: string; line: number }[] = [];
    const visit = (node: ts.Node): void => {
        if (ts.isIdentifier(node) && (IO_GLOBALS as readonly string[]).includes(node.text)) {
            const parent = node.parent;
            const isMemberName = (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node);
            const isDeclarationName = (ts.isVariableDeclaration(parent) || ts.isParameter(parent) || ts.isFunctionDeclaration(parent) || ts.isPropertySignature(parent)) && parent.name === node;
            if (!isMemberName && !isDeclarationName) found.push({ name: node.text, line: source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1 });
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return found;
}
