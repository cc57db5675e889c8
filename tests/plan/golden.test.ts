import { strict as assert } from "assert";
import { existsSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { computePlan } from "../../tools/planModel";
import { shellWord } from "../../components/remoteStep";
import { PLAN_COLUMNS, renderMarkdown, renderText } from "../../tools/render";

/**
 * The lab's plan as an operator reads it, pinned: any change to what the plan says shows up as a
 * diff of these files in review. `UPDATE_GOLDEN=1 npx mocha tests/plan/golden.test.ts` rewrites
 * them after an intended change (then read the diff).
 */
const GOLDEN_DIR = path.join(__dirname, "..", "fixtures", "plan");
const UPDATE = process.env.UPDATE_GOLDEN === "1";

function checkGolden(file: string, actual: string): void {
    const golden = path.join(GOLDEN_DIR, file);
    if (UPDATE) writeFileSync(golden, actual);
    assert.ok(existsSync(golden), `${golden} is missing: run with UPDATE_GOLDEN=1 once`);
    assert.equal(actual, readFileSync(golden, "utf8"), `${file} differs from the golden file (UPDATE_GOLDEN=1 rewrites it after an intended change)`);
}

describe("the lab's plan, pinned by golden files (text and Markdown at phases 0 and 7)", function () {
    this.timeout(120_000);

    for (const phase of ["0", "7"]) {
        describe(`at phase ${phase}`, () => {
            let text: string;
            let markdown: string;
            before(async () => {
                const plan = await computePlan({ targetPhase: phase });
                text = renderText(plan);
                markdown = renderMarkdown(plan);
            });

            it("the text equals tests/fixtures/plan/lab-phase-N.txt", () => checkGolden(`lab-phase-${phase}.txt`, text));
            it("the Markdown equals tests/fixtures/plan/lab-phase-N.md", () => checkGolden(`lab-phase-${phase}.md`, markdown));

            it(`no text line is longer than ${PLAN_COLUMNS} columns except one unbreakable word`, () => {
                for (const line of text.split("\n")) {
                    if (line.length <= PLAN_COLUMNS) continue;
                    const words = line.trim().replace(/ \\$/, "").split(" ");
                    assert.equal(words.length, 1, `a long line that could have wrapped: ${line}`);
                }
            });

            it("every remote step says where it runs and shows its script and arguments whole; other commands their create line", () => {
                // Unwrap the ` \` continuations and compare with each step's inputs.
                const unwrapped = text.replace(/ \\\n +/g, " ");
                return computePlan({ targetPhase: phase }).then((plan) => {
                    for (const p of plan.phases) {
                        const steps = new Set(p.resources.filter((r) => r.type === "ha-control-plane:remote:RemoteStep").map((r) => r.urn));
                        for (const r of p.resources) {
                            if (steps.has(r.urn)) {
                                const { host, address, script, args } = r.inputs as { host: string; address: string; script: string; args: string[] };
                                assert.ok(unwrapped.includes(`+ step ${r.name} on ${host}${address === host ? "" : ` (${address})`}`), `${r.name}: where it runs`);
                                assert.ok(unwrapped.includes([script, ...args.map(shellWord)].join(" ")), `${r.name}: ${script} ${args.join(" ")}`);
                                continue;
                            }
                            const create = r.inputs.create;
                            if (r.type === "command:remote:Command" && typeof create === "string" && !(r.parent && steps.has(r.parent))) {
                                for (const line of create.split("\n")) assert.ok(unwrapped.includes(line), `${r.name}: ${line}`);
                            }
                        }
                    }
                });
            });
        });
    }

    it("phase 0 says the host is already in its reserve, and the result line carries the outlook", () => {
        const text = readFileSync(path.join(GOLDEN_DIR, "lab-phase-0.txt"), "utf8");
        assert.match(text, /pve +267 +8 +262 +0 +259 +-3 +IN RESERVE by 3\n  ! pve is already 3 GiB into its host reserve/);
        assert.match(text.replace(/\s+/g, " "), /Result: OK to run phase 0 \(pulumi preview, then pulumi up\)\. Outlook: the masters through phase 3 do not fit \(pve over by 35 GiB\)/);
    });

    it("phase 7: ram-headroom stands under phase 2 (its up is the first refused), the passes fit on one line, the graph has only the phase chain", () => {
        const text = readFileSync(path.join(GOLDEN_DIR, "lab-phase-7.txt"), "utf8");
        const phase2 = text.slice(text.indexOf("\nPhase 2:"), text.indexOf("\nPhase 3:"));
        assert.match(phase2, /! MANDATORY ram-headroom:/);
        assert.match(text, /\n  pass: phases 0, 1, 1\.5, 4, 4\.5, 5, 6, 7 and stack-wide\n/);
        const md = readFileSync(path.join(GOLDEN_DIR, "lab-phase-7.md"), "utf8");
        const edges = md.split("\n").filter((l) => l.includes(" --> "));
        assert.deepEqual(edges, ["    P0 --> P1", "    P1 --> P1_5", "    P1_5 --> P2", "    P2 --> P3", "    P3 --> P4", "    P4 --> P4_5", "    P4_5 --> P5", "    P5 --> P6", "    P6 --> P7"]);
    });
});
