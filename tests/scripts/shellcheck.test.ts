/**
 * The one shellcheck suite: every shell script of the project (scripts/, toolchain/, .ci/run,
 * policies/run-pack) is shellcheck clean at severity style with the sources it reads followed,
 * and each kind keeps its rules:
 *  - remote scripts (scripts/): bash, strict mode, a usage header (they are runnable by hand);
 *  - scripts/kubeadm and scripts/etcd, bundled with their libraries onto `bash -s`'s stdin
 *    (components/kubeadm/bundle.ts): a script ends with `main "$@"`, so bash has read everything
 *    before any command runs and nothing consumes the rest of stdin; a library runs nothing;
 *  - the python helpers under scripts/ compile and document their usage.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { existsSync, readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { PYTHON3 } from "../kubeadm/helpers/stubs";

const ROOT = path.resolve(__dirname, "..", "..");

/** Files under `dir` (relative to the project) whose name passes `keep`, as project-relative paths. */
function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
    return readdirSync(path.join(ROOT, dir)).sort().flatMap((entry) => {
        const rel = path.posix.join(dir, entry);
        if (statSync(path.join(ROOT, rel)).isDirectory()) return filesUnder(rel, keep);
        return keep(entry) ? [rel] : [];
    });
}

const REMOTE = filesUnder("scripts", (f) => f.endsWith(".sh"));
const LOCAL = [...filesUnder("toolchain", (f) => f.endsWith(".sh")), ".ci/run", "policies/run-pack"];
const BUNDLED_DIRS = ["scripts/kubeadm/", "scripts/etcd/"];

describe("shellcheck and the shipping rules, for every shell script of the project", () => {
    it("finds the scripts: the remote ones, their libraries among them, and the local ones", () => {
        assert.ok(REMOTE.length >= 25, REMOTE.join(" "));
        for (const lib of ["scripts/kubeadm/lib.sh", "scripts/etcd/lib.sh"]) assert.ok(REMOTE.includes(lib), lib);
        for (const file of LOCAL) assert.ok(existsSync(path.join(ROOT, file)), file);
    });

    for (const script of [...REMOTE, ...LOCAL]) {
        it(`${script}: shellcheck (severity style, sources followed)`, function () {
            this.timeout(60_000);
            const run = spawnSync("shellcheck", ["--severity=style", "--external-sources", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
            assert.equal(run.status, 0, run.stdout + run.stderr);
        });
    }

    for (const script of REMOTE) {
        it(`${script}: bash, set -euo pipefail, a usage header${BUNDLED_DIRS.some((d) => script.startsWith(d)) ? ", safe on stdin" : ""}`, () => {
            const text = readFileSync(path.join(ROOT, script), "utf8");
            assert.match(text, /^#!\/usr\/bin\/env bash\n/, "runs with bash");
            assert.match(text, /^set -euo pipefail$/m, "fails fast");
            if (!BUNDLED_DIRS.some((d) => script.startsWith(d))) {
                assert.match(text.split("\n").slice(1, 20).join("\n"), /^#.*[Uu]sage|^#\s+\S+\.sh /m, "documents how to run it by hand");
                return;
            }
            assert.match(text.split("\n").slice(1, 25).join("\n"), /^# *Usage:/m, "documents its arguments");
            if (script.endsWith("/lib.sh")) {
                assert.doesNotMatch(text, /^main "\$@"$/m, "a library runs nothing");
            } else {
                assert.equal(text.trimEnd().split("\n").pop(), 'main "$@"', 'ends with main "$@"');
            }
        });
    }

    it("the python helpers under scripts/ compile and document their usage", () => {
        const helpers = filesUnder("scripts", (f) => f.endsWith(".py"));
        assert.ok(helpers.length > 0);
        for (const file of helpers) {
            const run = spawnSync(PYTHON3, ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", path.join(ROOT, file)], { encoding: "utf8" });
            assert.equal(run.status, 0, run.stderr);
            assert.match(readFileSync(path.join(ROOT, file), "utf8"), /^Usage:$/m, file);
        }
    });
});
