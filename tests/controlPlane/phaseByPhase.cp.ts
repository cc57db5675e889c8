/**
 * The way the user drives the stack, through the real engine: `pulumi up` one target phase at a
 * time, 0 to 7, then a lower target to roll the later phases back. Advancing a phase must leave
 * the phases before it untouched (an update of a command re-runs its script on a live host), and
 * lowering the target must delete only the later phases, the newest first.
 *
 * The engine is the real CLI (3.276.0), with the real kubernetes provider (4.25.0) on a real
 * kube-apiserver 1.34 for phases 4.5, 5 and 7. STAND-INS: the command, random and proxmoxve
 * plugins (the module proxy refuses them, toolchain/pins.json), tests/engine/helpers/
 * standInProvider.ts, which run nothing; the kubelet (static pods); kube-controller-manager's
 * garbage collector, which ends the provider's foreground deletions.
 */
import { strict as assert } from "assert";
import { readFileSync, rmSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { PHASE_IDS, PhaseId } from "@ha-control-plane/topology";
import { repoRoot } from "../../toolchain";
import { ControlPlane } from "../helpers/controlPlane/controlPlane";
import { withGarbageCollector } from "../helpers/controlPlane/standIns";
import { diagnostics, EngineEvent, EngineProject, offlinePlan, PLANTED, requireCli } from "../engine/helpers/engineProject";
import { standInPluginDir } from "../engine/helpers/standInProvider";

const LAB_POLICY_CONFIG = path.join(repoRoot, "policies", "lab.json");
/** Where the rollback goes back to: the load balancer stays, the masters and all after them go. */
const ROLLBACK_TO: PhaseId = "1.5";

/** The lab stack file at `phase`, with room on the host (the day the deferral lifts). */
function stackFile(phase: PhaseId): string {
    const doc = parse(readFileSync(path.join(repoRoot, "Pulumi.lab.yaml"), "utf8"));
    doc.config["ha-control-plane:targetPhase"] = phase;
    doc.config["ha-control-plane:proxmox"].nodes[0].committedMemoryGiB = 200;
    return stringify(doc);
}

/** What phases 4.5, 5 and 7 make in the cluster (the garbage collector's stand-in watches them). */
const KINDS = ["cronjobs.batch", "configmaps", "roles.rbac.authorization.k8s.io", "rolebindings.rbac.authorization.k8s.io", "clusterroles.rbac.authorization.k8s.io", "clusterrolebindings.rbac.authorization.k8s.io"];

const ENGINE_OWN = /::pulumi:(pulumi:Stack|providers:[^:]+)::(default_|ha-control-plane-lab$)/;

/** The engine's steps in the order it started them, without the stack and the default providers. */
const steps = (events: readonly EngineEvent[]) =>
    events
        .filter((e) => e.resourcePreEvent)
        .map((e) => ({ op: e.resourcePreEvent.metadata.op as string, urn: e.resourcePreEvent.metadata.urn as string }))
        .filter((s) => !ENGINE_OWN.test(s.urn));

describe("engine: the lab driven phase by phase with pulumi up, 0 to 7, then rolled back to phase 1.5 by lowering the target (real engine, kubernetes provider and apiserver; STAND-IN command, random and proxmoxve plugins, kubelet, garbage collector)", function () {
    this.timeout(30 * 60_000);
    let cp: ControlPlane | undefined;
    let plugins: string | undefined;
    let project: EngineProject | undefined;
    /** Per target phase: the resources the offline plan puts in that phase. */
    const phaseOf = new Map<string, PhaseId>();
    const ups = new Map<PhaseId, Awaited<ReturnType<EngineProject["run"]>>>();
    let rollback: Awaited<ReturnType<EngineProject["run"]>>;
    /** The objects of ours the apiserver serves at phase 7, and after the rollback. */
    let served: { atPhase7: number; afterRollback: number };

    before(async () => {
        requireCli();
        cp = await ControlPlane.start({ masters: 1 });
        for (const ns of ["kured", "k8s-upgrade"]) await cp.kubectlOk(["create", "namespace", ns]);
        plugins = standInPluginDir();
        const plan = await offlinePlan(path.join(repoRoot, "Pulumi.lab.yaml"), "7", LAB_POLICY_CONFIG);
        for (const p of plan.doc.phases as { id: PhaseId; resources: { urn: string }[] }[]) for (const r of p.resources) phaseOf.set(r.urn, p.id);
        project = new EngineProject({ lab: stackFile("0") }, { pathFirst: plugins });
        await project.initStack("lab", { ...PLANTED, "kubernetesAccess.kubeconfig": (await cp.externalKubeconfig()).text });
        const secured = readFileSync(path.join(project.dir, "Pulumi.lab.yaml"), "utf8");
        for (const phase of PHASE_IDS) {
            // The user's edit: targetPhase in the stack file, the secrets kept as `config set` wrote them.
            project.writeStackFile("lab", secured.replace(/(ha-control-plane:targetPhase: )"[^"]*"/, `$1"${phase}"`));
            ups.set(phase, await project.run(["up", "--stack", "lab", "--yes", "--skip-preview"]));
        }
        const ours = async () => ((await cp!.kubectlJson(["get", KINDS.join(","), "-A", "-l", "app.kubernetes.io/part-of=ha-control-plane"])).items as unknown[]).length;
        const atPhase7 = await ours();
        project.writeStackFile("lab", secured.replace(/(ha-control-plane:targetPhase: )"[^"]*"/, `$1"${ROLLBACK_TO}"`));
        rollback = await withGarbageCollector(cp, KINDS, () => project!.run(["up", "--stack", "lab", "--yes", "--skip-preview"]));
        served = { atPhase7, afterRollback: await ours() };
    });
    after(async () => {
        project?.cleanup();
        if (plugins) rmSync(plugins, { recursive: true, force: true });
        await cp?.teardown();
    });

    for (const phase of PHASE_IDS) {
        it(`up to phase ${phase} creates that phase's resources and leaves every earlier one as it was`, () => {
            const up = ups.get(phase)!;
            assert.equal(up.code, 0, up.stdout.slice(-3000));
            assert.deepEqual(diagnostics(up.events, ["error"]), []);
            const byOp = (op: string) => steps(up.events).filter((s) => s.op === op).map((s) => s.urn);
            const expected = [...phaseOf].filter(([, p]) => p === phase).map(([urn]) => urn);
            assert.deepEqual(byOp("create").sort(), expected.sort(), "creates: the phase's resources");
            const touched = steps(up.events).filter((s) => s.op !== "same" && s.op !== "create").map((s) => `${s.op} ${s.urn}`);
            assert.deepEqual(touched, [], "no update, replace or delete of an earlier phase");
        });
    }

    it(`lowering the target to ${ROLLBACK_TO} deletes exactly the later phases' resources, the newest phase first, and touches nothing it keeps`, () => {
        assert.equal(rollback.code, 0, rollback.stdout.slice(-3000));
        const later = PHASE_IDS.slice(PHASE_IDS.indexOf(ROLLBACK_TO) + 1);
        const done = steps(rollback.events);
        const deleted = done.filter((s) => s.op === "delete").map((s) => s.urn);
        assert.deepEqual(deleted.slice().sort(), [...phaseOf].filter(([, p]) => later.includes(p)).map(([urn]) => urn).sort());
        assert.deepEqual(done.filter((s) => s.op !== "same" && s.op !== "delete").map((s) => `${s.op} ${s.urn}`), []);
        // Each phase's deletes start only once every later phase's are done. A provider is the
        // engine's to forget once nothing uses it (it runs nothing on a host): left out.
        const acting = deleted.filter((urn) => !urn.includes("::pulumi:providers:"));
        const order = acting.map((urn) => PHASE_IDS.indexOf(phaseOf.get(urn)!));
        for (let i = 1; i < order.length; i++) assert.ok(order[i] <= order[i - 1], `${acting[i]} (phase ${PHASE_IDS[order[i]]}) deleted after one of phase ${PHASE_IDS[order[i - 1]]}`);
        assert.deepEqual([...new Set(order)].map((i) => PHASE_IDS[i]), [...later].reverse(), "every later phase, newest first");
        assert.deepEqual(served, { atPhase7: 13, afterRollback: 0 }, "the apiserver served phases 4.5, 5 and 7's objects, and serves none after");
    });
});
