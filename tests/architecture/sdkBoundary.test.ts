/**
 * tools/sdkInternals.ts is the only file that reaches past @pulumi/pulumi's public entries, so an
 * SDK upgrade has one file to re-read and one test (tests/sdkInternals.test.ts) to pass. Every
 * import form the compiler knows is read from every TypeScript and JavaScript file of the project;
 * scripts are read as text, and policies/run-pack may name only the SDK's policy-pack entry.
 */
import { strict as assert } from "assert";
import { readdirSync, readFileSync } from "fs";
import * as path from "path";
import * as ts from "typescript";
import { POLICY_PACK_RUNNER_MODULE } from "../../tools/sdkInternals";

const REPO = path.resolve(__dirname, "../..");
const BOUNDARY = "tools/sdkInternals.ts";
/** The public entries: the package itself and the Automation API. */
const PUBLIC = new Set(["@pulumi/pulumi", "@pulumi/pulumi/automation"]);
const SKIPPED_DIRS = new Set(["node_modules", ".git", "bin"]);
const CODE = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

function projectFiles(dir = REPO): string[] {
    const files: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) {
            if (!SKIPPED_DIRS.has(entry.name)) files.push(...projectFiles(full));
        } else if (entry.isFile()) {
            files.push(full);
        }
    }
    return files;
}

/** Every module specifier in `source`: import/export from, import =, import(), import("x") types, require, require.resolve. */
function moduleSpecifiers(fileName: string, source: string): string[] {
    const found: string[] = [];
    const literal = (node: ts.Node | undefined): void => {
        if (node && ts.isStringLiteralLike(node)) found.push(node.text);
    };
    const visit = (node: ts.Node): void => {
        if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) literal(node.moduleSpecifier);
        else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) literal(node.moduleReference.expression);
        else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) literal(node.argument.literal);
        else if (ts.isCallExpression(node)) {
            const callee = node.expression;
            const isRequire = ts.isIdentifier(callee) && callee.text === "require";
            const isResolve = ts.isPropertyAccessExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === "require" && callee.name.text === "resolve";
            if (isRequire || isResolve || callee.kind === ts.SyntaxKind.ImportKeyword) literal(node.arguments[0]);
        }
        ts.forEachChild(node, visit);
    };
    visit(ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true));
    return found;
}

const isSdkSubpath = (specifier: string): boolean => specifier.startsWith("@pulumi/pulumi/") && !PUBLIC.has(specifier);

/** Scripts (a shebang line or a shell/PHP name) that name an SDK subpath, as text. */
function scriptMentions(source: string): string[] {
    return [...source.matchAll(/@pulumi\/pulumi\/[A-Za-z0-9_./-]+/g)].map((m) => m[0]).filter(isSdkSubpath);
}

describe("SDK boundary: only tools/sdkInternals.ts imports @pulumi/pulumi/<subpath>", () => {
    it("finds each import form (the scanner itself)", () => {
        const source = [
            `import { a } from "@pulumi/pulumi/runtime/one";`,
            `import * as b from "@pulumi/pulumi/runtime/two";`,
            `import type { c } from "@pulumi/pulumi/runtime/three";`,
            `export { d } from "@pulumi/pulumi/runtime/four";`,
            `import e = require("@pulumi/pulumi/runtime/five");`,
            `const f = require("@pulumi/pulumi/runtime/six");`,
            `const g = require.resolve("@pulumi/pulumi/cmd/seven");`,
            `const h = import("@pulumi/pulumi/runtime/eight");`,
            `let i: typeof import("@pulumi/pulumi/runtime/nine");`,
            `import * as pulumi from "@pulumi/pulumi";`,
            `import * as automation from "@pulumi/pulumi/automation";`,
            `// require("@pulumi/pulumi/runtime/in-a-comment")`,
        ].join("\n");
        assert.deepEqual(moduleSpecifiers("probe.ts", source).filter(isSdkSubpath), [
            "@pulumi/pulumi/runtime/one",
            "@pulumi/pulumi/runtime/two",
            "@pulumi/pulumi/runtime/three",
            "@pulumi/pulumi/runtime/four",
            "@pulumi/pulumi/runtime/five",
            "@pulumi/pulumi/runtime/six",
            "@pulumi/pulumi/cmd/seven",
            "@pulumi/pulumi/runtime/eight",
            "@pulumi/pulumi/runtime/nine",
        ]);
    });

    it("no other TypeScript or JavaScript file imports one", () => {
        const offenders: string[] = [];
        let boundaryImports = 0;
        for (const file of projectFiles().filter((f) => CODE.test(f) && !f.endsWith(".d.ts"))) {
            const relative = path.relative(REPO, file).split(path.sep).join("/");
            const source = readFileSync(file, "utf8");
            // Only a file that spells the package's subpath prefix can import one: parse just those.
            const subpaths = source.includes("@pulumi/pulumi/") ? moduleSpecifiers(file, source).filter(isSdkSubpath) : [];
            if (relative === BOUNDARY) boundaryImports = subpaths.length;
            else offenders.push(...subpaths.map((s) => `${relative}: ${s}`));
        }
        assert.deepEqual(offenders, [], `SDK internals belong in ${BOUNDARY} (with a pin in tests/sdkInternals.test.ts); import them from there`);
        assert.ok(boundaryImports > 0, `${BOUNDARY} was not scanned`);
    });

    it("no script names one, but for policies/run-pack starting the SDK's policy-pack entry", () => {
        const mentions: string[] = [];
        for (const file of projectFiles().filter((f) => !CODE.test(f))) {
            const source = readFileSync(file, "utf8");
            if (!source.startsWith("#!") && !/\.(sh|bash|php)$/.test(file)) continue;
            mentions.push(...scriptMentions(source).map((s) => `${path.relative(REPO, file).split(path.sep).join("/")}: ${s}`));
        }
        assert.deepEqual(mentions, [`policies/run-pack: ${POLICY_PACK_RUNNER_MODULE}`]);
    });
});
