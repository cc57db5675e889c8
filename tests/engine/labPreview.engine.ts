/**
 * The lab program under the real Pulumi engine (CLI v3.276.0 built from source), with the real
 * policy pack, at every target phase and with room on the host: a fresh stack on a local backend,
 * the secrets planted with `config set --secret`, then `pulumi preview --policy-pack`.
 *
 * Held to the offline plan: every resource the engine registers has the plan's URN, type, parent
 * and dependencies. While the module proxy refuses the command, random and proxmoxve plugins
 * (toolchain/pins.json says what it answered), the engine stops at the first resource of a
 * missing plugin: then the only errors allowed are those missing plugins, and everything the
 * engine did register must match. With every plugin present the same test checks the whole
 * contract: the same resources, the plan's verdicts, and the exit code.
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { policies } from "../../policies/pack";
import { refusedPlugins, repoRoot } from "../../toolchain";
import { diagnostics, EngineProject, offlinePlan, PLANTED, programRegistrations, registeredResources, requireCli } from "./helpers/engineProject";

const LAB_POLICY_CONFIG = path.join(repoRoot, "policies", "lab.json");
const labConfig = (): { config: Record<string, any> } => parse(readFileSync(path.join(repoRoot, "Pulumi.lab.yaml"), "utf8"));

/** The lab's phases, in order, from the offline plan of the last phase. */
async function labPhases(): Promise<string[]> {
    const plan = await offlinePlan(path.join(repoRoot, "Pulumi.lab.yaml"), "7", LAB_POLICY_CONFIG);
    return plan.doc.phases.map((p: { id: string }) => p.id);
}

function stackFile(targetPhase: string, edit?: (config: Record<string, any>) => void): string {
    const doc = labConfig();
    doc.config["ha-control-plane:targetPhase"] = targetPhase;
    edit?.(doc.config);
    return stringify(doc);
}

const missingPluginMessage = (name: string) => `no resource plugin 'pulumi-resource-${name}' found`;

describe("engine: pulumi preview of the lab program with the policy pack (real CLI and pack)", function () {
    this.timeout(15 * 60_000);
    const refused = Object.keys(refusedPlugins());
    const cases: { title: string; phase: string; edit?: (c: Record<string, any>) => void }[] = [];
    let phases: string[] = [];

    before(async () => {
        requireCli();
        phases = await labPhases();
        assert.ok(phases.length >= 10, `the lab has phases 0 to 7: ${phases.join(", ")}`);
    });

    // One case per phase, plus the host with room at the last phase (the day the deferral lifts).
    for (const phase of ["0", "1", "1.5", "2", "3", "4", "4.5", "5", "6", "7"]) cases.push({ title: `at target phase ${phase}`, phase });
    cases.push({ title: "at phase 7 with room on the host (200 GiB committed)", phase: "7", edit: (c) => (c["ha-control-plane:proxmox"].nodes[0].committedMemoryGiB = 200) });

    // The pack holds no stack's figures: without --policy-pack-config the CLI itself refuses it.
    describe("without --policy-pack-config", () => {
        let project: EngineProject;
        let preview: Awaited<ReturnType<EngineProject["run"]>>;

        before(async () => {
            project = new EngineProject({ lab: stackFile("0") });
            await project.initStack("lab");
            preview = await project.run(["preview", "--stack", "lab", "--policy-pack", path.join(repoRoot, "policies")]);
        });
        after(() => project?.cleanup());

        it("loads the pack, then fails before any step, naming every required key of every policy", () => {
            assert.ok(preview.events.some((e) => e.policyLoadEvent), preview.stderr);
            assert.notEqual(preview.code, 0);
            const required = policies.flatMap((p) => (p.configSchema?.required ?? []).map((key) => `${p.name}: ${key} is required`));
            assert.ok(required.length >= 5, required.join("; "));
            const errors = diagnostics(preview.events, ["error"]).map((d) => d.message);
            for (const message of required) assert.ok(errors.some((e) => e.includes("validating policy config") && e.includes(message)), `${message} in ${JSON.stringify(errors)}`);
            assert.deepEqual(registeredResources(preview.events).filter((r) => r.type !== "pulumi:pulumi:Stack"), [], "nothing registered past the stack");
        });
    });

    for (const c of cases) {
        describe(c.title, () => {
            let project: EngineProject;
            let preview: Awaited<ReturnType<EngineProject["run"]>>;
            let plan: Awaited<ReturnType<typeof offlinePlan>>;

            before(async () => {
                project = new EngineProject({ lab: stackFile(c.phase, c.edit) });
                await project.initStack("lab");
                preview = await project.run(["preview", "--stack", "lab", "--policy-pack", path.join(repoRoot, "policies"), "--policy-pack-config", LAB_POLICY_CONFIG]);
                // The plan reads the very stack file the engine ran on (its secrets now `secure:`).
                plan = await offlinePlan(path.join(project.dir, "Pulumi.lab.yaml"), c.phase, LAB_POLICY_CONFIG);
            });
            after(() => project?.cleanup());

            it("loads the policy pack", () => {
                assert.ok(preview.events.some((e) => e.policyLoadEvent), preview.stderr);
                assert.match(preview.stdout, /ha-control-plane@v0\.1\.0/);
            });

            it("registers every resource with the offline plan's URN, type, parent and dependencies", () => {
                const planned = new Map<string, any>();
                for (const p of plan.doc.phases) for (const r of p.resources) planned.set(r.urn, r);
                const registered = registeredResources(preview.events).filter((r) => r.type !== "pulumi:pulumi:Stack" && !r.type.startsWith("pulumi:providers:"));
                // Every registration the program sent, even those the engine never got to step.
                const sent = programRegistrations(preview.events);
                assert.ok(sent.length > 1, "the program registered nothing with the engine");
                const plannedNames = new Set([...planned.values()].map((p) => `${p.type} ${p.name}`));
                for (const r of sent) assert.ok(plannedNames.has(`${r.type} ${r.name}`), `the program registered ${r.type} ${r.name}, which the offline plan does not have`);
                for (const r of registered) {
                    const p = planned.get(r.urn);
                    assert.ok(p, `the engine registered ${r.urn}, which the offline plan does not have`);
                    assert.equal(r.type, p.type, r.urn);
                    assert.equal(r.parent, p.parent, r.urn);
                    assert.deepEqual(r.dependencies, [...p.dependencies].sort(), r.urn);
                }
                if (refused.length === 0) assert.equal(registered.length, planned.size, "every planned resource reaches the engine");
            });

            it("reports no error or warning but a refused plugin's absence", () => {
                const problems = diagnostics(preview.events).filter((d) => !refused.some((name) => d.message.includes(missingPluginMessage(name))));
                assert.deepEqual(problems, []);
                if (refused.length > 0) {
                    assert.notEqual(preview.code, 0);
                    assert.ok(
                        refused.some((name) => preview.stdout.includes(missingPluginMessage(name))),
                        `the preview stops at a refused plugin: ${preview.stdout.slice(-2000)}`,
                    );
                } else {
                    // With every plugin: the pack's mandatory verdicts decide the exit code, as in the plan.
                    const mandatory = plan.doc.violations.filter((v: { enforcementLevel: string }) => v.enforcementLevel === "mandatory");
                    assert.equal(preview.code === 0, mandatory.length === 0, preview.stdout.slice(-3000));
                    for (const v of plan.doc.violations) assert.ok(preview.stdout.includes(v.policy), `verdict ${v.policy} in the engine's output`);
                }
            });

            it("never shows a planted secret in its output, event log or state", () => {
                const seen = [preview.stdout, preview.stderr, readFileSync(preview.eventLog, "utf8"), project.stateText(), JSON.stringify(plan.doc)].join("\n");
                for (const [key, value] of Object.entries(PLANTED)) {
                    for (const line of value.split("\n").filter((l) => l.length > 8)) assert.ok(!seen.includes(line), `${key} leaked`);
                }
            });
        });
    }
});
