/**
 * The suite's own guards (tests/leakCheck.ts, tests/helpers/daemons.ts), shown on nested mocha
 * runs of the fixtures in tests/fixtures/leakCheck: what a test leaves behind fails the run by
 * name and is cleaned up; a failed or timed-out `before` that started etcd leaves nothing; large
 * outputs are read to the end.
 */
import { strict as assert } from "assert";
import { execFileSync, spawnSync } from "child_process";
import { readdirSync, readFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { run, ScriptResult } from "./loadBalancer/scriptRunner";

const ROOT = path.resolve(__dirname, "..");
const MOCHA = path.join(ROOT, "node_modules/.bin/mocha");
const FIXTURES = path.join(__dirname, "fixtures/leakCheck");

/** Command lines of the live processes that mention `text`. */
function processesMentioning(text: string): string[] {
    const found: string[] = [];
    for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
        try {
            const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
            if (cmd.includes(text)) found.push(`${pid} ${cmd}`);
        } catch {
            // gone meanwhile
        }
    }
    return found;
}

describe("the suite's leak check and daemon helpers", function () {
    this.timeout(300_000);
    /** Where a nested run keeps its temporary files: under this run's (TMPDIR is inherited). */
    const NESTED_TMPDIR = path.join(tmpdir(), "hacp-test-run-");
    const nestedTmpdirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith("hacp-test-run-"));

    /** mocha on one fixture, as `npm test` runs it (the project's .mocharc.json). */
    const nested = (spec: string, env: Record<string, string> = {}): Promise<ScriptResult> =>
        run(MOCHA, [path.join(FIXTURES, spec)], { env, timeoutMs: 240_000 });

    it("fails a run that leaves a process, an orphaned grandchild, a temporary directory or a server, naming each, and removes them", async () => {
        const probe = `hacp-leak-probe-${process.pid}`;
        const res = await nested("leavesThings.spec.ts", { HACP_LEAK_PROBE: probe });
        const out = res.stdout + res.stderr;
        assert.notEqual(res.code, 0, out);
        assert.match(out, /the tests left things behind/);
        assert.match(out, new RegExp(`process \\d+ still running: ${probe}-child`));
        assert.match(out, new RegExp(`process \\d+ still running: ${probe}-orphan`));
        assert.match(out, /temporary file left: \S+\/left-behind-\w+/);
        assert.match(out, /open handle left \(would keep mocha from exiting\): Server .*"127\.0\.0\.1"/);
        assert.deepEqual(processesMentioning(probe), [], "the leftovers were killed");
        assert.deepEqual(nestedTmpdirs(), [], "the nested run's temporary directory is gone");
    });

    it("a before hook that fails or times out after starting a 3-member etcd leaves nothing behind (its after hook stops it)", async () => {
        const res = await nested("failedBefore.spec.ts");
        const out = res.stdout + res.stderr;
        assert.equal(res.code, 2, `two failing hooks, and no leftovers:\n${out}`);
        assert.match(out, /planned failure after the cluster started/);
        assert.match(out, /Timeout of 300ms exceeded/);
        assert.doesNotMatch(out, /left things behind/);
        assert.deepEqual(processesMentioning(NESTED_TMPDIR), [], "no etcd of the nested run is alive");
        assert.deepEqual(nestedTmpdirs(), []);
    });

    it("reads a child's output past Node's default 1 MiB buffer to the end", () => {
        const size = 3 * 1024 * 1024;
        const sync = spawnSync("head", ["-c", String(size), "/dev/zero"]);
        assert.equal(sync.error, undefined);
        assert.equal(sync.stdout.length, size);
        assert.equal(execFileSync("head", ["-c", String(size), "/dev/zero"]).length, size);
    });
});
