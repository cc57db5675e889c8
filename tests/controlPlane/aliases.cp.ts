/**
 * A stack that already ran must see no replacement and no delete after the refactors of issue
 * 11 (the phase layout, RemoteStep, LocalStep): deleting a command runs its delete script on a
 * live host. The real engine (CLI v3.276.0 built from source) checks it, on a state the program
 * itself made before those changes:
 *   1. the program at BEFORE (the commit the behaviour pin was first made from, just before the
 *      phase layout) runs `pulumi up` of the lab at phase 7 into a local backend;
 *   2. today's program runs `pulumi preview` on that stack.
 * Each moved resource carries an alias to its old URN; the engine resolves them, so every
 * resource of the old state is planned under its old URN as same or update.
 *
 * The kubernetes provider is the real one (4.25.0, built from source), on a real kube-apiserver
 * 1.34 (tests/helpers/controlPlane), so phases 4.5, 5 and 7 are in the state as the lab's would
 * be, and the preview diffs them with the server.
 * STAND-INS: the command, random and proxmoxve plugins (the module proxy refuses them,
 * toolchain/pins.json), served by tests/engine/helpers/standInProvider.ts with the real
 * providers' diff rules; they run nothing, dial nothing. The kubelet (static pods).
 */
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, existsSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse, stringify } from "yaml";
import { isNoRerunUpdate } from "../../components/commandLifecycle";
import { repoRoot } from "../../toolchain";
import { ControlPlane } from "../helpers/controlPlane/controlPlane";
import { diagnostics, EngineEvent, EngineProject, PLANTED, requireCli } from "../engine/helpers/engineProject";
import { standInPluginDir } from "../engine/helpers/standInProvider";

/** Before the phase layout (4a405c1), RemoteStep (87f2977) and LocalStep (07c7577). */
const BEFORE = "5d9767c";

/** Steps that delete something, or replace it (which deletes it, before or after). */
const DESTRUCTIVE = ["delete", "replace", "create-replacement", "delete-replaced", "discard", "remove-pending-replace", "import-replacement", "read-replacement"];

/** A line of the stand-ins' log (tests/engine/helpers/standInProvider.ts). */
interface StandInCall {
    readonly call: string;
    readonly pkg: string;
    readonly urn: string;
    readonly changed?: string[];
}

interface StateResource {
    readonly urn: string;
    readonly type: string;
    readonly custom?: boolean;
}

/** The program's files at `commit`, with this checkout's node_modules (the same SDK and providers). */
function checkoutOf(commit: string): string {
    try {
        execFileSync("git", ["-C", repoRoot, "cat-file", "-e", `${commit}^{commit}`], { stdio: "ignore" });
    } catch {
        throw new Error(`commit ${commit} is not in this clone's history: this test needs the history (git clone without --depth)`);
    }
    const dir = mkdtempSync(path.join(tmpdir(), `hacp-engine-${commit}-`));
    try {
        const archive = path.join(dir, "program.tar");
        execFileSync("git", ["-C", repoRoot, "archive", "--output", archive, commit]);
        execFileSync("tar", ["-x", "-f", archive, "-C", dir]);
        rmSync(archive);
        symlinkSync(path.join(repoRoot, "node_modules"), path.join(dir, "node_modules"));
        return dir;
    } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
    }
}

/** The lab stack file at phase 7 with room on the host, so nothing stops the old `up`. */
function labStackFile(checkout: string): string {
    const doc = parse(readFileSync(path.join(checkout, "Pulumi.lab.yaml"), "utf8"));
    doc.config["ha-control-plane:targetPhase"] = "7";
    doc.config["ha-control-plane:proxmox"].nodes[0].committedMemoryGiB = 200;
    return stringify(doc);
}

const steps = (events: readonly EngineEvent[]) =>
    events.filter((e) => e.resourcePreEvent).map((e) => e.resourcePreEvent.metadata as { op: string; urn: string; type: string; old?: { urn: string; custom?: boolean }; new?: { custom?: boolean; inputs?: Record<string, unknown> } });

const isProvider = (type: string) => type.startsWith("pulumi:providers:");

describe(`engine: a lab stack made by the program of ${BEFORE} (before the phase layout, RemoteStep and LocalStep) sees no replace and no delete from today's program (real engine, kubernetes provider and apiserver; STAND-IN command, random and proxmoxve plugins, kubelet)`, function () {
    this.timeout(30 * 60_000);
    let beforeCheckout: string;
    let plugins: string;
    let project: EngineProject;
    let up: Awaited<ReturnType<EngineProject["run"]>>;
    let preview: Awaited<ReturnType<EngineProject["run"]>>;
    let oldState: StateResource[];
    let standInLog: string;
    let cp: ControlPlane | undefined;
    let previewCalls: StandInCall[];

    before(async () => {
        requireCli();
        cp = await ControlPlane.start({ masters: 1 });
        // What the kured and k8s-upgrade stacks own in the lab: the namespaces phases 5 and 7 write into.
        for (const ns of ["kured", "k8s-upgrade"]) await cp.kubectlOk(["create", "namespace", ns]);
        beforeCheckout = checkoutOf(BEFORE);
        plugins = standInPluginDir();
        standInLog = path.join(plugins, "calls.jsonl");
        project = new EngineProject({ lab: labStackFile(beforeCheckout) }, { checkout: beforeCheckout, pathFirst: plugins, env: { HACP_STAND_IN_LOG: standInLog } });
        await project.initStack("lab", { ...PLANTED, "kubernetesAccess.kubeconfig": (await cp.externalKubeconfig()).text });
        up = await project.run(["up", "--stack", "lab", "--yes", "--skip-preview"]);
        const exported = await project.run(["stack", "export", "--stack", "lab"]);
        assert.equal(exported.code, 0, exported.stderr);
        oldState = (JSON.parse(exported.stdout).deployment.resources ?? []) as StateResource[];
        const calls = () => (existsSync(standInLog) ? readFileSync(standInLog, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as StandInCall) : []);
        const upCalls = calls().length;
        project.useProgramOf(repoRoot);
        preview = await project.run(["preview", "--stack", "lab", "--diff"]);
        previewCalls = calls().slice(upCalls);
    });
    after(async () => {
        project?.cleanup();
        for (const dir of [beforeCheckout, plugins]) if (dir) rmSync(dir, { recursive: true, force: true });
        await cp?.teardown();
    });

    it(`the program of ${BEFORE} made every resource of the lab at phase 7`, () => {
        assert.equal(up.code, 0, up.stdout.slice(-3000));
        assert.deepEqual(diagnostics(up.events, ["error"]), []);
        const customs = oldState.filter((r) => r.custom && !isProvider(r.type));
        const count = (prefix: string) => customs.filter((r) => r.type.startsWith(prefix)).length;
        assert.ok(count("command:") >= 50, `the old state holds the lab's commands (${count("command:")})`);
        assert.ok(count("kubernetes:") >= 10, `and the objects of phases 4.5, 5 and 7 (${count("kubernetes:")})`);
        for (const type of ["proxmoxve:index/vmLegacy:VmLegacy", "random:index/randomPassword:RandomPassword", "command:local:Command", "command:remote:CopyToRemote"]) {
            assert.ok(customs.some((r) => r.type === type), `the old state holds a ${type}`);
        }
    });

    it("today's program previews that stack without an error", () => {
        assert.equal(preview.code, 0, preview.stderr);
        assert.deepEqual(diagnostics(preview.events, ["error"]), []);
    });

    it("no step deletes or replaces anything", () => {
        const destructive = steps(preview.events).filter((s) => DESTRUCTIVE.includes(s.op)).map((s) => `${s.op} ${s.urn}`);
        assert.deepEqual(destructive, []);
    });

    it("every resource of the old state is planned under its old URN (through its alias), as same or update; none is made anew", () => {
        const planned = new Map(steps(preview.events).filter((s) => s.old).map((s) => [s.old!.urn, s]));
        const missing: string[] = [];
        for (const r of oldState.filter((x) => x.type !== "pulumi:pulumi:Stack" && !isProvider(x.type))) {
            const step = planned.get(r.urn);
            if (!step || !["same", "update"].includes(step.op)) missing.push(`${r.urn}: ${step?.op ?? "not planned"}`);
        }
        assert.deepEqual(missing, []);
        // Today's program adds components (RemoteStep, LocalStep) but no custom resource.
        const created = steps(preview.events).filter((s) => s.op === "create" && s.new?.custom && !isProvider(s.type));
        assert.deepEqual(created.map((s) => s.urn), [], "custom resources created");
    });

    it("a command updates only where the script it ships changed since (its stdin): never its command lines, connection or triggers", () => {
        const changed = previewCalls.filter((c) => c.call === "diff" && c.pkg === "command" && (c.changed ?? []).length > 0);
        assert.deepEqual(changed.filter((c) => c.changed!.join() !== "stdin").map((c) => `${c.urn}: ${c.changed!.join(", ")}`), []);
        const updated = steps(preview.events).filter((s) => s.op === "update" && s.type.startsWith("command:")).map((s) => s.urn);
        assert.deepEqual(updated.sort(), changed.map((c) => c.urn).sort(), "the engine updates exactly the commands whose stdin changed");
        // What the update runs is each step's declared choice (tests/commandLifecycle.test.ts): the
        // documented no-op for a destructive step, the create again for a check or a reconcile.
        for (const step of steps(preview.events).filter((s) => s.op === "update" && s.type.startsWith("command:"))) {
            const inputs = step.new!.inputs!;
            assert.ok(isNoRerunUpdate(inputs.update) || inputs.update === inputs.create, `${step.urn}: update ${String(inputs.update)}`);
        }
    });

    it("the engine asked the stand-ins for no create, update or delete in the preview", () => {
        assert.ok(previewCalls.some((c) => c.call === "diff"), "the preview diffed the old resources");
        assert.deepEqual(previewCalls.filter((c) => c.call !== "diff"), []);
    });
});
