/**
 * The Node version is what the dependencies declare. Three places name it: package.json's
 * `engines.node` (what this project promises), toolchain/pins.json's `node` (what
 * toolchain/node.sh fetches, and so what CI runs on a machine whose own Node is older), and the
 * `engines.node` of every package installed under node_modules (what they need; @pulumi/pulumi
 * 3.270 and later say >= 22). They must agree, checked with semver's own range algebra:
 * the pin satisfies every range, package.json's range admits no version a dependency refuses,
 * node.sh accepts nothing package.json refuses, and this very process (the suite runs under
 * node.sh) is inside package.json's range.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync } from "fs";
import * as path from "path";
import * as semver from "semver";
import { pins, repoRoot } from "../toolchain";

interface Declared {
    /** name@version of the installed package, and where it is. */
    readonly pkg: string;
    readonly range: string;
}

/** Every package below `modules` (scoped ones and nested node_modules too) that declares engines.node. */
function declaredEngines(modules: string): Declared[] {
    const found: Declared[] = [];
    const visit = (dir: string) => {
        const manifest = path.join(dir, "package.json");
        if (existsSync(manifest)) {
            const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; version?: string; engines?: { node?: unknown } };
            const range = pkg.engines?.node;
            if (typeof range === "string") found.push({ pkg: `${pkg.name}@${pkg.version} (${path.relative(repoRoot, dir)})`, range });
        }
        const nested = path.join(dir, "node_modules");
        if (existsSync(nested)) walk(nested);
    };
    const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
            if (entry.name.startsWith(".")) continue;
            const full = path.join(dir, entry.name);
            // A link is the workspace's policies/ package: its dependencies are installed here too.
            if (!entry.isDirectory()) continue;
            if (entry.name.startsWith("@")) {
                for (const scoped of readdirSync(full, { withFileTypes: true })) if (scoped.isDirectory()) visit(path.join(full, scoped.name));
            } else visit(full);
        }
    };
    walk(modules);
    return found;
}

const rootPackage = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { engines?: { node?: string } };

describe("the Node version is what the dependencies declare", () => {
    const engines = rootPackage.engines?.node ?? "";
    const dependencies = declaredEngines(path.join(repoRoot, "node_modules"));

    it("package.json declares a valid engines.node range, and the dependencies were found", () => {
        assert.ok(semver.validRange(engines), `package.json engines.node is not a semver range: ${JSON.stringify(engines)}`);
        const pulumi = dependencies.find((d) => d.pkg.startsWith("@pulumi/pulumi@"));
        assert.ok(pulumi, "@pulumi/pulumi is installed and declares engines.node (run npm ci)");
        const invalid = dependencies.filter((d) => !semver.validRange(d.range));
        assert.deepEqual(invalid, [], "every declared range parses");
    });

    it("the Node pinned in toolchain/pins.json satisfies package.json's range and every dependency's", () => {
        assert.ok(semver.valid(pins.node), `pins.json node is not a version: ${pins.node}`);
        assert.ok(semver.satisfies(pins.node, engines), `pinned node ${pins.node} is outside package.json's ${engines}`);
        const refusing = dependencies.filter((d) => !semver.satisfies(pins.node, d.range));
        assert.deepEqual(refusing, [], `pinned node ${pins.node} is refused by`);
    });

    it("package.json's range is no looser than the strictest dependency's (every version it admits, they all admit)", () => {
        const looser = dependencies.filter((d) => !semver.subset(engines, d.range));
        assert.deepEqual(looser, [], `package.json engines.node ${engines} admits versions these refuse`);
    });

    it("toolchain/node.sh fetches the pinned version and accepts no Node that package.json refuses", () => {
        const run = spawnSync("bash", ["-c", 'source toolchain/node.sh && printf "%s %s" "$HA_NODE_VERSION" "$HA_NODE_MIN_MAJOR"'], { cwd: repoRoot, encoding: "utf8", timeout: 60_000 });
        assert.equal(run.status, 0, run.stderr);
        const [version, minMajor] = run.stdout.split(" ");
        assert.equal(version, pins.node, "node.sh reads its version from pins.json");
        // node.sh keeps the machine's own Node when its major is at least this one.
        assert.ok(semver.subset(`>=${minMajor}.0.0`, engines), `node.sh accepts any node >= ${minMajor}, package.json says ${engines}`);
    });

    it("this process, run under toolchain/node.sh, is inside package.json's range", () => {
        assert.ok(semver.satisfies(process.version, engines), `node ${process.version} is outside ${engines}`);
    });
});
