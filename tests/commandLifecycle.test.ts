/**
 * Every command's update semantics are a choice (components/commandLifecycle.ts): a key rotation
 * or a dial setting is an UPDATE in pulumi-command 1.2.1, which re-runs `create` when no `update`
 * is set. These specs record the real program and hold each command to its declared choice.
 */
import { strict as assert } from "assert";
import { isNoRerunUpdate, noRerunOnUpdate, rerunOnUpdate } from "../components/commandLifecycle";
import { SSH_DIAL } from "../components/sshConnection";
import { computePlan } from "../tools/planModel";
import type { RecordedResource } from "../tools/recorder";
import { renderJson, renderText } from "../tools/render";
import { recordLab } from "./helpers/program";

const COMMANDS = ["command:remote:Command", "command:local:Command"];

/** Steps whose re-run is destructive or pointless once done (by the last part of their name). */
const NO_RERUN_STEPS = [/-proxmox-snapshot$/, /^retrofit.*-apply$/, /-node-reset$/, /-etcd-membership$/, /-join-material$/, /-join$/];

const commands = (resources: readonly RecordedResource[]) => resources.filter((r) => COMMANDS.includes(r.type));
const noRerunStep = (name: string) => NO_RERUN_STEPS.some((re) => re.test(name));

function withKind(kind: "pfsense" | "haproxy", extra?: (raw: Record<string, unknown>) => void) {
    return (raw: Record<string, unknown>) => {
        (raw.loadBalancer as Record<string, unknown>).kind = kind;
        extra?.(raw);
    };
}

describe("command update semantics (commandLifecycle)", function () {
    this.timeout(60_000);

    it("noRerunOnUpdate is a plain echo naming the step; rerunOnUpdate is the create itself", () => {
        const { update } = noRerunOnUpdate("join");
        assert.equal(update, "echo 'join: inputs changed (connection or script); nothing re-run'");
        assert.ok(isNoRerunUpdate(update));
        assert.ok(!isNoRerunUpdate("sudo -n bash -s -- --node x"));
        assert.deepEqual(rerunOnUpdate({ create: "bash -s -- a", stdin: "s" }), { create: "bash -s -- a", stdin: "s", update: "bash -s -- a" });
    });

    it("the offline plan shows what an update does: the text under each command, the JSON in its inputs", async () => {
        const plan = await computePlan({ targetPhase: "3" });
        const text = renderText(plan);
        assert.match(text, /step retrofit-preflight on k8s-master \(10\.0\.20\.100\) as root\n(?: {8}.*\n)+ {8}on update: re-runs create\n/);
        assert.match(text, /step retrofit-apply on k8s-master \(10\.0\.20\.100\) as root\n(?: {8}.*\n)+ {8}on update: nothing re-run; replaced when its triggers change\n/);
        assert.match(text, /step k8s-master-2-join on k8s-master-2 \(10\.0\.20\.110\) as root\n(?: {8}.*\n)+ {8}on update: nothing re-run\n/);
        assert.match(text, /step apiserver-dns-a where pulumi up runs\n(?: {8}.*\n)+ {8}on update: re-runs create; replaced when its triggers change\n/);
        assert.doesNotMatch(text, /no update declared/);
        const json = JSON.parse(renderJson(plan)) as { phases: { resources: { name: string; inputs: Record<string, unknown> }[] }[] };
        const join = json.phases.flatMap((p) => p.resources).find((r) => r.name === "k8s-master-2-join" && r.inputs.update !== undefined)!;
        assert.ok(isNoRerunUpdate(join.inputs.update), String(join.inputs.update));
    });

    for (const kind of ["pfsense", "haproxy"] as const) {
        it(`${kind}: every command at phase 7 declares its update: the create again, or the documented no-op for a destructive step`, async () => {
            const { resources } = await recordLab("7", withKind(kind));
            const all = commands(resources);
            assert.ok(all.length > 30, `${all.length} commands`);
            const undeclared = all.filter((r) => typeof r.inputs.update !== "string").map((r) => r.name);
            assert.deepEqual(undeclared, [], "commands without an update (a changed key would re-run create)");
            for (const r of all) {
                if (noRerunStep(r.name)) assert.ok(isNoRerunUpdate(r.inputs.update), `${r.name} is not re-run on update: ${String(r.inputs.update)}`);
                else assert.equal(r.inputs.update, r.inputs.create, `${r.name}: neither re-run (update = create) nor the documented no-op`);
            }
            // Each destructive step exists at phase 7 (a renamed step would silently escape the list).
            for (const re of NO_RERUN_STEPS) assert.ok(all.some((r) => re.test(r.name)), `no command matches ${re}`);
        });

        for (const change of ["ssh.privateKey", "a dial setting"] as const) {
            it(`${kind}: two programs differing only in ${change} re-run no destructive step`, async () => {
                const rotate = (raw: Record<string, unknown>) => {
                    const ssh = raw.ssh as Record<string, unknown>;
                    ssh.privateKey = "-----BEGIN OPENSSH PRIVATE KEY-----\nrotated\n-----END OPENSSH PRIVATE KEY-----";
                };
                const before = await recordLab("7", withKind(kind), { revealSecrets: true });
                let after;
                if (change === "ssh.privateKey") after = await recordLab("7", withKind(kind, rotate), { revealSecrets: true });
                else {
                    // Dial settings are the program's, not config: record once with a longer perDialTimeout.
                    const saved = SSH_DIAL.perDialTimeout;
                    SSH_DIAL.perDialTimeout = saved + 5;
                    try {
                        after = await recordLab("7", withKind(kind), { revealSecrets: true });
                    } finally {
                        SSH_DIAL.perDialTimeout = saved;
                    }
                }
                const byUrn = new Map(commands(after.resources).map((r) => [r.urn, r]));
                let differing = 0;
                for (const old of commands(before.resources)) {
                    const now = byUrn.get(old.urn);
                    assert.ok(now, `${old.name} is in both programs`);
                    if (JSON.stringify(old.inputs) === JSON.stringify(now.inputs)) continue;
                    differing++;
                    assert.deepEqual(now.inputs.triggers, old.inputs.triggers, `${old.name}: a replace (triggers changed)`);
                    assert.equal(typeof now.inputs.update, "string", `${old.name} has no update: its create would re-run`);
                    if (noRerunStep(old.name)) assert.ok(isNoRerunUpdate(now.inputs.update), `${old.name} would re-run: ${String(now.inputs.update)}`);
                    else assert.equal(now.inputs.update, now.inputs.create, `${old.name} re-runs only as a declared re-runnable step`);
                }
                const remote = commands(before.resources).filter((r) => r.type === "command:remote:Command").length;
                assert.equal(differing, remote, "every remote command carries the connection, so every one differs");
            });
        }
    }
});
