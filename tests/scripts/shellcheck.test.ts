import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { readdirSync, statSync } from "fs";
import * as path from "path";
import { SCRIPTS_DIR } from "../../components/scriptFile";

function shellScripts(dir: string): string[] {
    return readdirSync(dir).flatMap((entry) => {
        const full = path.join(dir, entry);
        if (statSync(full).isDirectory()) return shellScripts(full);
        return entry.endsWith(".sh") ? [full] : [];
    });
}

describe("remote scripts are shellcheck clean", () => {
    const scripts = shellScripts(SCRIPTS_DIR);
    it("finds the scripts", () => assert.ok(scripts.length > 0));
    for (const script of scripts) {
        const name = path.relative(SCRIPTS_DIR, script);
        it(`${name}: shellcheck, set -euo pipefail, a usage header`, () => {
            const run = spawnSync("shellcheck", ["--severity=style", "--external-sources", script], { encoding: "utf8", timeout: 60_000 });
            assert.equal(run.status, 0, run.stdout + run.stderr);
            const text = require("fs").readFileSync(script, "utf8") as string;
            assert.match(text, /^#!\/usr\/bin\/env bash\n/, "runs with bash");
            assert.match(text, /^set -euo pipefail$/m, "fails fast");
            assert.match(text.split("\n").slice(1, 20).join("\n"), /^#.*[Uu]sage|^#\s+\S+\.sh /m, "documents how to run it by hand");
        });
    }
});
