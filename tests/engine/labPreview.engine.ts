/**
 * The lab program under the real Pulumi engine (CLI v3.276.0 built from source), with the real
 * policy pack, at every target phase and with room on the host: a fresh stack on a local backend,
 * the secrets planted with `config set --secret`, then `pulumi preview --json --policy-pack`.
 *
 * Held to the offline plan, whole: the engine plans exactly the plan's resources, each with its
 * URN, type, parent and dependencies (from the preview's JSON: the event log carries no
 * dependencies), the pack gives the plan's verdicts (policy, level, resource, message), and the
 * mandatory ones decide the exit code.
 * STAND-INS: the command, random and proxmoxve plugins (the module proxy refuses them,
 * toolchain/pins.json), tests/engine/helpers/standInProvider.ts: a preview only checks and diffs,
 * and they run nothing. The kubernetes plugin is the real one, with no cluster behind it.
 */
import { strict as assert } from "assert";
import { readFileSync, rmSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { policies } from "../../policies/pack";
import { repoRoot } from "../../toolchain";
import { diagnostics, EngineProject, offlinePlan, PLANTED, policyVerdicts, previewSteps, programRegistrations, registeredResources, requireCli } from "./helpers/engineProject";
import { STAND_IN_PACKAGES, standInPluginDir } from "./helpers/standInProvider";

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

describe("engine: pulumi preview of the lab program with the policy pack, held to the whole offline plan (real CLI and pack; STAND-IN command, random and proxmoxve plugins)", function () {
    this.timeout(15 * 60_000);
    let plugins: string;
    /** The CLI's notice that it takes a plugin from PATH: the stand-ins, and nothing else. */
    const standInNotice = (message: string) => STAND_IN_PACKAGES.some((pkg) => message === `using pulumi-resource-${pkg} from $PATH at ${path.join(plugins, `pulumi-resource-${pkg}`)}`);
    const cases: { title: string; phase: string; edit?: (c: Record<string, any>) => void }[] = [];
    let phases: string[] = [];

    before(async () => {
        requireCli();
        plugins = standInPluginDir();
        phases = await labPhases();
        assert.ok(phases.length >= 10, `the lab has phases 0 to 7: ${phases.join(", ")}`);
    });
    after(() => plugins && rmSync(plugins, { recursive: true, force: true }));

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
                project = new EngineProject({ lab: stackFile(c.phase, c.edit) }, { pathFirst: plugins });
                await project.initStack("lab");
                preview = await project.run(["preview", "--stack", "lab", "--json", "--policy-pack", path.join(repoRoot, "policies"), "--policy-pack-config", LAB_POLICY_CONFIG]);
                // The plan reads the very stack file the engine ran on (its secrets now `secure:`).
                plan = await offlinePlan(path.join(project.dir, "Pulumi.lab.yaml"), c.phase, LAB_POLICY_CONFIG);
            });
            after(() => project?.cleanup());

            it("loads the policy pack", () => {
                assert.ok(preview.events.some((e) => e.policyLoadEvent), preview.stderr);
            });

            it("plans exactly the offline plan's resources, each with its URN, type, parent and dependencies", () => {
                const planned = new Map<string, any>();
                for (const p of plan.doc.phases) for (const r of p.resources) planned.set(r.urn, r);
                // Every registration the program sent, by type and name.
                const sent = programRegistrations(preview.events);
                const plannedNames = new Set([...planned.values()].map((p) => `${p.type} ${p.name}`));
                for (const r of sent) assert.ok(plannedNames.has(`${r.type} ${r.name}`), `the program registered ${r.type} ${r.name}, which the offline plan does not have`);
                // The stack and the default providers are the engine's, not the plan's.
                const stepped = previewSteps(preview.stdout).filter((r) => r.type !== "pulumi:pulumi:Stack" && !/^pulumi:providers:[^:]+::default/.test(r.urn.split("::").slice(2).join("::")));
                assert.deepEqual(stepped.map((r) => r.urn).sort(), [...planned.keys()].sort(), "the engine plans the offline plan's resources");
                for (const r of stepped) {
                    const p = planned.get(r.urn);
                    assert.equal(r.type, p.type, r.urn);
                    assert.equal(r.parent, p.parent, r.urn);
                    assert.deepEqual(r.dependencies, [...p.dependencies].sort(), r.urn);
                }
            });

            it("gives the offline plan's verdicts (policy, level, resource, message), and the mandatory ones decide the exit code", () => {
                const verdict = (v: { policy: string; enforcementLevel: string; urn?: string; message: string }) => `${v.enforcementLevel} ${v.policy} ${v.urn ?? ""}: ${v.message}`;
                assert.deepEqual(policyVerdicts(preview.events).map(verdict).sort(), plan.doc.violations.map(verdict).sort());
                const mandatory = plan.doc.violations.filter((v: { enforcementLevel: string }) => v.enforcementLevel === "mandatory");
                assert.equal(preview.code === 0, mandatory.length === 0, `exit ${preview.code}: ${preview.stderr.slice(-2000)}`);
            });

            it("reports no error or warning but the stand-ins' notice (and, when a mandatory verdict stops it, that the preview failed)", () => {
                const mandatory = plan.doc.violations.some((v: { enforcementLevel: string }) => v.enforcementLevel === "mandatory");
                const problems = diagnostics(preview.events).filter((d) => !standInNotice(d.message) && !(mandatory && d.severity === "error" && d.urn === "" && d.message === "preview failed"));
                assert.deepEqual(problems, []);
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
