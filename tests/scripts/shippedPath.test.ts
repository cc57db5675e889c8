/**
 * The class behind issue 9: a script tested by a path it is not shipped by. Two guards:
 *  - every command the program registers runs a script from stdin in one of the shapes
 *    tests/helpers/shipped.ts reproduces (`[sudo -n] bash -s -- ARGS`, `[sudo -n] php -- ARGS`)
 *    or a local step (`bash /abs/scripts/SCRIPT`, a "local" script of the manifest, its secret on stdin);
 *  - no test builds a script bundle or a shipped stdin by hand: tests take them from the
 *    functions the components build their commands with, so the two cannot drift.
 */
import { strict as assert } from "assert";
import { readdirSync, readFileSync, statSync } from "fs";
import * as path from "path";
import { isNoRerunUpdate } from "../../components/commandLifecycle";
import { SCRIPT_MANIFEST, ScriptEntry } from "../../components/scriptManifest";
import { recordLab } from "../helpers/program";

const STDIN_SHAPES = [/^(sudo -n )?bash -s --( |$)/, /^(sudo -n )?php --( |$)/];

function testFiles(dir: string): string[] {
    return readdirSync(dir).flatMap((entry) => {
        const full = path.join(dir, entry);
        if (statSync(full).isDirectory()) return testFiles(full);
        return full.endsWith(".ts") ? [full] : [];
    });
}

describe("every script runs the way its component ships it", function () {
    this.timeout(60_000);

    for (const kind of ["pfsense", "haproxy"] as const) {
        it(`${kind}: each remote command at phase 7 is a script on stdin, in a shape the script tests reproduce`, async () => {
            const { resources } = await recordLab("7", (raw) => {
                const lb = raw.loadBalancer as Record<string, unknown>;
                lb.kind = kind;
            });
            const remote = resources.filter((r) => r.type === "command:remote:Command");
            assert.ok(remote.length > 30, `${remote.length} remote commands`);
            for (const r of remote) {
                for (const action of ["create", "update", "delete"] as const) {
                    const line = r.inputs[action];
                    if (line === undefined || line === null) continue;
                    // noRerunOnUpdate's echo runs no script (tests/commandLifecycle.test.ts).
                    if (action === "update" && isNoRerunUpdate(line)) continue;
                    assert.ok(STDIN_SHAPES.some((shape) => shape.test(String(line))), `${r.name} ${action}: ${String(line)}`);
                }
                assert.ok(r.inputs.stdin, `${r.name} ships its script on stdin`);
            }
            const local = (Object.entries(SCRIPT_MANIFEST) as [string, ScriptEntry][]).filter(([, e]) => e.host === "local").map(([id]) => `bash scripts/${id} `);
            for (const r of resources.filter((x) => x.type === "command:local:Command")) {
                for (const action of ["create", "update", "delete"] as const) {
                    const line = r.inputs[action];
                    if (line !== undefined && line !== null) assert.ok(local.some((l) => String(line).startsWith(l)), `${r.name} ${action}: ${String(line)}`);
                }
            }
        });
    }

    it("no test assembles a bundle or a shipped stdin itself", () => {
        const root = path.resolve(__dirname, "..");
        const self = path.resolve(__filename);
        const offenders: string[] = [];
        for (const file of testFiles(root)) {
            if (path.resolve(file) === self) continue;
            const text = readFileSync(file, "utf8");
            // Framing a payload is fine in unit tests of the framing; not where a script then runs.
            const runsScripts = /\bspawn(Sync)?\(|\brun\("bash"|execFile\(/.test(text);
            for (const pattern of [/\bbundleScript\(/, /\bphpBundle\(/, /\brunOnStdin\(/, ...(runsScripts ? [/\bbashWithPayload\(/, /\bphpWithState\(/] : [])]) {
                if (pattern.test(text)) offenders.push(`${path.relative(root, file)}: ${pattern.source}`);
            }
        }
        assert.deepEqual(offenders, [], "take the command from the component's exported builder and run it with tests/helpers/shipped.ts");
    });
});
