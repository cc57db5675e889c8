/**
 * Pulumi.yaml's declared types, as the real CLI enforces them before any program runs: a value of
 * another type is refused naming the key and the type, and a key without a default must be set.
 * (That it accepts the lab stack is labPreview.engine.ts's preview.)
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { repoRoot } from "../../toolchain";
import { EngineProject, requireCli } from "./helpers/engineProject";

const lab = readFileSync(path.join(repoRoot, "Pulumi.lab.yaml"), "utf8");

/** The lab stack file with one top-level key's block replaced (or removed, with `replacement` empty). */
function withKey(key: string, replacement: string): string {
    const lines = lab.split("\n");
    const start = lines.findIndex((l) => l.startsWith(`  ha-control-plane:${key}:`));
    assert.ok(start >= 0, `Pulumi.lab.yaml sets ${key}`);
    let end = start + 1;
    while (end < lines.length && (lines[end].startsWith("    ") || lines[end].trim() === "" || lines[end].trimStart().startsWith("#"))) end++;
    return [...lines.slice(0, start), ...(replacement ? [replacement] : []), ...lines.slice(end)].join("\n");
}

describe("engine: the types Pulumi.yaml declares (real CLI)", function () {
    this.timeout(180_000);
    let project: EngineProject;
    before(() => {
        requireCli();
        project = new EngineProject({
            wrongtype: withKey("workers", "  ha-control-plane:workers: not-a-list"),
            missing: withKey("dns", ""),
        });
    });
    after(() => project?.cleanup());

    const preview = async (stack: string): Promise<string> => {
        const init = await project.run(["stack", "init", stack]);
        assert.equal(init.code, 0, init.stderr);
        const res = await project.run(["preview", "--stack", stack, "--non-interactive"]);
        assert.notEqual(res.code, 0, res.stdout);
        return `${res.stdout}\n${res.stderr}`;
    };

    it("refuses a value of another type, naming the key and the declared type", async () => {
        assert.match(await preview("wrongtype"), /Stack 'wrongtype' with configuration key 'workers' must be of type 'array<object>'/);
    });

    it("refuses a stack that leaves out a key without a default", async () => {
        assert.match(await preview("missing"), /Stack 'missing' is missing configuration value 'dns'/);
    });
});
