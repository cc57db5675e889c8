/**
 * `npm run pulumi` sets no passphrase of its own: a stack whose secrets it encrypts uses the
 * user's. Without one the real CLI refuses a new stack in `--non-interactive`, and writes nothing.
 */
import { strict as assert } from "assert";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { runPulumi } from "../../tools/pulumi";
import { engineEnv, repoRoot } from "../../toolchain";
import { requireCli } from "./helpers/engineProject";

describe("engine: npm run pulumi without PULUMI_CONFIG_PASSPHRASE (real CLI)", function () {
    this.timeout(120_000);
    let dir: string;
    before(() => {
        requireCli();
        dir = mkdtempSync(path.join(tmpdir(), "hacp-engine-nopass-"));
        copyFileSync(path.join(repoRoot, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    });
    after(() => rmSync(dir, { recursive: true, force: true }));

    it("refuses to create a stack, naming the variable, and leaves no stack or config behind", async () => {
        const env = engineEnv({ backendUrl: `file://${path.join(dir, "state")}` });
        delete env.PULUMI_CONFIG_PASSPHRASE;
        delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
        const res = await runPulumi(["stack", "init", "lab", "--non-interactive"], { cwd: dir, env, timeoutMs: 60_000 });
        assert.notEqual(res.code, 0, res.stdout);
        assert.match(res.stderr, /PULUMI_CONFIG_PASSPHRASE/);
        assert.ok(!existsSync(path.join(dir, "Pulumi.lab.yaml")), "no stack file with an encryption salt");
        const stacks = path.join(dir, "state", ".pulumi", "stacks");
        assert.deepEqual(existsSync(stacks) ? readdirSync(stacks, { recursive: true }) : [], []);
    });
});
