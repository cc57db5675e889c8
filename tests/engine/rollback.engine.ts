/**
 * Rolling one master back the way the README and docs/runbook-remove-master.md say, through the
 * real engine (CLI v3.276.0 built from source) and the real policy pack: the lab at phase 3 with
 * room on the host, made by `pulumi up`; then
 *   pulumi destroy --target '<urn of k8s-master-3's VM>' --target-dependents
 * and `pulumi up` again, the way back in. What the engine deletes, and in which order, is its
 * own decision from the program's dependencies and parents: the test holds it to the offline
 * plan's graph and to the rollback order the README promises.
 * STAND-INS: the command, random and proxmoxve plugins (the module proxy refuses them,
 * toolchain/pins.json), tests/engine/helpers/standInProvider.ts: they run no script and make no
 * VM, and log each call, so the test reads which delete scripts the engine would run, in order.
 */
import { strict as assert } from "assert";
import { existsSync, readFileSync, rmSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { repoRoot } from "../../toolchain";
import { diagnostics, EngineEvent, EngineProject, offlinePlan, requireCli } from "./helpers/engineProject";
import { standInPluginDir } from "./helpers/standInProvider";

const LAB_POLICY_CONFIG = path.join(repoRoot, "policies", "lab.json");
const MASTER = "k8s-master-3";

interface PlannedResource {
    readonly urn: string;
    readonly type: string;
    readonly name: string;
    readonly parent: string;
    readonly dependencies: readonly string[];
}

/** What `--target-dependents` takes with `target`: everything depending on it, by dependency or parent, transitively. */
function withDependents(resources: readonly PlannedResource[], target: string): Set<string> {
    const set = new Set([target]);
    for (let grew = true; grew; ) {
        grew = false;
        for (const r of resources) {
            if (!set.has(r.urn) && [...r.dependencies, r.parent].some((d) => set.has(d))) {
                set.add(r.urn);
                grew = true;
            }
        }
    }
    return set;
}

const stepsOf = (events: readonly EngineEvent[], op: string) =>
    events.filter((e) => e.resourcePreEvent?.metadata.op === op).map((e) => e.resourcePreEvent.metadata.urn as string);

const nameOf = (urn: string) => urn.split("::").pop()!;

describe(`engine: rolling ${MASTER} back with pulumi destroy --target <its VM> --target-dependents, then up again (real CLI and pack; STAND-IN command, random and proxmoxve plugins)`, function () {
    this.timeout(15 * 60_000);
    let plugins: string | undefined;
    let project: EngineProject | undefined;
    let planned: PlannedResource[];
    let vmUrn: string;
    let up: Awaited<ReturnType<EngineProject["run"]>>;
    let destroy: Awaited<ReturnType<EngineProject["run"]>>;
    let upAgain: Awaited<ReturnType<EngineProject["run"]>>;
    /** The stand-ins' delete calls during the destroy, in the order the engine made them. */
    let deleteCalls: string[];

    before(async () => {
        requireCli();
        plugins = standInPluginDir();
        const log = path.join(plugins, "calls.jsonl");
        const calls = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { call: string; urn: string }) : []);
        const doc = parse(readFileSync(path.join(repoRoot, "Pulumi.lab.yaml"), "utf8"));
        doc.config["ha-control-plane:targetPhase"] = "3";
        doc.config["ha-control-plane:proxmox"].nodes[0].committedMemoryGiB = 200;
        project = new EngineProject({ lab: stringify(doc) }, { pathFirst: plugins, env: { HACP_STAND_IN_LOG: log } });
        await project.initStack("lab");
        const pack = ["--policy-pack", path.join(repoRoot, "policies"), "--policy-pack-config", LAB_POLICY_CONFIG];
        up = await project.run(["up", "--stack", "lab", "--yes", "--skip-preview", ...pack]);
        const plan = await offlinePlan(path.join(project.dir, "Pulumi.lab.yaml"), "3", LAB_POLICY_CONFIG);
        planned = (plan.doc.phases as { resources: PlannedResource[] }[]).flatMap((p) => p.resources);
        vmUrn = planned.find((r) => r.type === "proxmoxve:index/vmLegacy:VmLegacy" && r.name === `${MASTER}-vm`)!.urn;
        const before = calls().length;
        destroy = await project.run(["destroy", "--stack", "lab", "--yes", "--skip-preview", "--target", vmUrn, "--target-dependents"]);
        deleteCalls = calls().slice(before).filter((c) => c.call === "delete").map((c) => nameOf(c.urn));
        upAgain = await project.run(["up", "--stack", "lab", "--yes", "--skip-preview", ...pack]);
    });
    after(() => {
        project?.cleanup();
        if (plugins) rmSync(plugins, { recursive: true, force: true });
    });

    it("pulumi up made the lab at phase 3, the policy pack passing it", () => {
        assert.equal(up.code, 0, up.stdout.slice(-3000));
        assert.deepEqual(diagnostics(up.events, ["error"]), []);
        // Every planned resource; the stack and the default providers are the engine's own.
        const created = stepsOf(up.events, "create").filter((u) => !/::pulumi:(pulumi:Stack|providers:[^:]+)::(default_|ha-control-plane-lab$)/.test(u));
        assert.deepEqual(created.sort(), planned.map((r) => r.urn).sort());
    });

    it(`the destroy deletes ${MASTER}'s VM and what depends on it by dependency or parent, as the offline plan's graph says: nothing of k8s-master-2 or of the phases before`, () => {
        assert.equal(destroy.code, 0, destroy.stdout.slice(-3000));
        const deleted = stepsOf(destroy.events, "delete");
        assert.deepEqual(deleted.sort(), [...withDependents(planned, vmUrn)].sort());
        assert.deepEqual(deleted.filter((u) => !nameOf(u).startsWith(MASTER)), [], "only the master's own resources");
    });

    it("the delete scripts run in the rollback's order: out of the pool, the token revoked, the guarded etcd removal, the node reset through the guest agent, the VM last", () => {
        const order = [`${MASTER}-lb-pfsense`, `${MASTER}-join-material`, `${MASTER}-etcd-membership`, `${MASTER}-node-reset`, `${MASTER}-vm`];
        const at = order.map((name) => deleteCalls.indexOf(name));
        assert.ok(at.every((i) => i >= 0), `every step of the rollback is deleted: ${deleteCalls.join(", ")}`);
        assert.deepEqual([...at].sort((a, b) => a - b), at, `in order: ${deleteCalls.join(", ")}`);
        assert.equal(deleteCalls.at(-1), `${MASTER}-vm`, "the VM last");
    });

    it(`pulumi up again brings ${MASTER} back: it creates exactly what the destroy deleted and leaves the rest as it was`, () => {
        assert.equal(upAgain.code, 0, upAgain.stdout.slice(-3000));
        assert.deepEqual(stepsOf(upAgain.events, "create").sort(), stepsOf(destroy.events, "delete").sort());
        assert.deepEqual([...stepsOf(upAgain.events, "update"), ...stepsOf(upAgain.events, "replace"), ...stepsOf(upAgain.events, "delete")], []);
    });
});
