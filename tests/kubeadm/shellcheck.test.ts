/**
 * Every script of scripts/kubeadm and scripts/etcd: shellcheck clean (following the libraries
 * they source), strict mode, a usage header, and the stdin rule: the program pipes scripts into
 * `bash -s`, so a script ends with `main "$@"` (bash has read everything before any command runs
 * and nothing consumes the rest of stdin) and libraries run nothing at all.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { readdirSync, readFileSync } from "fs";
import * as path from "path";
import { SCRIPTS_DIR } from "../../components/scriptFile";
import { PYTHON3 } from "./helpers/stubs";

const DIRS = ["kubeadm", "etcd"];
const files = (ext: string) => DIRS.flatMap((d) => readdirSync(path.join(SCRIPTS_DIR, d)).filter((f) => f.endsWith(ext)).map((f) => `${d}/${f}`));

describe("scripts/kubeadm and scripts/etcd: shellcheck and the shipping rules", () => {
    const scripts = files(".sh");
    it("finds the scripts", () => assert.ok(scripts.length >= 12, scripts.join(" ")));

    it("shellcheck (severity style, sources followed) passes on all of them", function () {
        this.timeout(60_000);
        const run = spawnSync("shellcheck", ["--severity=style", "--external-sources", ...scripts], { cwd: SCRIPTS_DIR, encoding: "utf8", timeout: 60_000 });
        assert.equal(run.status, 0, run.stdout + run.stderr);
    });

    for (const script of scripts) {
        it(`${script}: bash, set -euo pipefail, usage header, safe on stdin`, () => {
            const text = readFileSync(path.join(SCRIPTS_DIR, script), "utf8");
            assert.match(text, /^#!\/usr\/bin\/env bash\n/);
            assert.match(text, /^set -euo pipefail$/m);
            assert.match(text.split("\n").slice(1, 25).join("\n"), /^# *Usage:/m, "documents its arguments");
            const lastLine = text.trimEnd().split("\n").pop();
            if (script.endsWith("/lib.sh")) {
                assert.doesNotMatch(text, /^main "\$@"$/m, "a library runs nothing");
            } else {
                assert.equal(lastLine, 'main "$@"', "ends with main \"$@\"");
            }
        });
    }

    it("the python helpers compile and document their usage", () => {
        for (const file of files(".py")) {
            const run = spawnSync(PYTHON3, ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", path.join(SCRIPTS_DIR, file)], { encoding: "utf8" });
            assert.equal(run.status, 0, run.stderr);
            assert.match(readFileSync(path.join(SCRIPTS_DIR, file), "utf8"), /^Usage:$/m);
        }
    });
});
