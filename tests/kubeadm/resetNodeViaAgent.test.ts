/**
 * scripts/kubeadm/reset-node-via-agent.sh (the rollback's last step, on the Proxmox node: pipes
 * reset-node.sh into the VM through the guest agent) as ControlPlaneJoin ships its node-reset
 * step (the bundle on stdin: the check on create, the reset on delete), with a STUB qm
 * (tests/kubeadm/helpers/nodeHost.ts). What the node then does with it: resetNode.test.ts.
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { nodeResetCommand } from "../../components/kubeadm/controlPlaneJoin";
import { scriptText } from "../../components/scriptFile";
import type { ShippedCommand } from "../../components/shipped";
import { runShipped, withEditedLine } from "../helpers/shipped";
import { nodeHost } from "./helpers/nodeHost";

describe("reset-node-via-agent.sh as ControlPlaneJoin ships its node-reset step (rollback, on the Proxmox node; stub qm)", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env, commands } = host;
    const received = () => path.join(host.stubs.dir, "guest-stdin");
    const qm = (status: string, agent: number, guestExit = 0) => [
        status === "missing" ? { bin: "qm", args: "^status 206$", stderr: "Configuration file 'nodes/pve/qemu-server/206.conf' does not exist\n", exit: 2 } : { bin: "qm", args: "^status 206$", stdout: `status: ${status}\n` },
        { bin: "qm", args: "^agent 206 ping$", exit: agent },
        { bin: "qm", args: "^guest exec 206 ", run: `cat >"$STUB_DIR/guest-stdin"; printf '{ "exitcode" : ${guestExit}, "exited" : 1, "out-data" : "reset-node: k8s-master-3 reset\\\\n" }\\n'` },
    ];
    /** ControlPlaneJoin's node-reset step for k8s-master-3 (VM 206). */
    const step = (over: Partial<Parameters<typeof nodeResetCommand>[0]> = {}) => nodeResetCommand({ pveSshUser: "root", vmId: 206, node: "k8s-master-3", timeoutSeconds: 300, ...over });
    const check = (shipped: ShippedCommand = step()) => runShipped(shipped, env());
    const reset = (shipped: ShippedCommand = step()) => runShipped(shipped, env(), { action: "delete" });

    it("pipes reset-node.sh into the VM through the guest agent (as bundled by the program)", () => {
        host.stubs.setRules(qm("running", 0));
        const r = reset();
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(commands("qm"), ["status 206", "agent 206 ping", "guest exec 206 --timeout 300 --pass-stdin 1 -- bash -s -- --node-name k8s-master-3"]);
        assert.equal(readFileSync(received(), "utf8"), `${scriptText("kubeadm/reset-node.sh")}`);
        assert.match(r.stderr, /k8s-master-3 reset through the guest agent/);
    });

    it("tolerates a missing VM, a stopped VM, a silent agent, a failing guest exec and a failed reset (exit 0, with a warning)", () => {
        const cases: [ReturnType<typeof qm>, RegExp][] = [
            [qm("missing", 0), /VM 206 does not exist: nothing to reset on k8s-master-3/],
            [qm("stopped", 0), /VM 206 is not running \(status: stopped\): nothing to reset on k8s-master-3/],
            [qm("running", 1), /WARNING: the guest agent of VM 206 does not answer: k8s-master-3 is unreachable/],
            [[...qm("running", 0).slice(0, 2), { bin: "qm", args: "^guest exec 206 ", stderr: "VM 206 qmp command 'guest-exec' failed - got timeout\n", exit: 255 }], /WARNING: qm guest exec on VM 206 failed \(VM 206 qmp command 'guest-exec' failed - got timeout\); skipping the on-node clean-up/],
            [qm("running", 0, 1), /WARNING: the reset on k8s-master-3 did not complete \(1\)/],
        ];
        for (const [rules, message] of cases) {
            host.stubs.setRules(rules);
            const r = reset();
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, message);
        }
    });

    it("the create (--check) reports whether the VM runs and its agent answers, and never resets", () => {
        const cases: [ReturnType<typeof qm>, RegExp][] = [
            [qm("running", 0), /VM 206 runs and its guest agent answers: a rollback resets k8s-master-3 through it/],
            [qm("running", 1), /VM 206 runs; its guest agent does not answer yet/],
            [qm("missing", 0), /VM 206 does not exist: nothing to reset on k8s-master-3/],
        ];
        for (const [rules, message] of cases) {
            host.stubs.setRules(rules);
            host.stubs.clearCalls();
            const r = check();
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, message);
            assert.ok(!commands("qm").some((c) => c.startsWith("guest exec")), "--check never resets");
        }
    });

    it("refuses what it is given wrong with exit 2 before asking qm: values the component passes on, and lines it never builds", () => {
        host.stubs.setRules(qm("running", 0));
        host.stubs.clearCalls();
        const cases: [ShippedCommand, "create" | "delete", RegExp][] = [
            [step({ timeoutSeconds: 1.5 }), "delete", /--timeout must be whole seconds, not '1\.5'/],
            [withEditedLine(step(), (l) => l.replace(/--vmid 206 /, ""), "delete"), "delete", /--vmid and --node-name are required/],
            [withEditedLine(step(), (l) => l.replace(/--node-name k8s-master-3/, "--node-name")), "create", /--node-name needs a value/],
            [withEditedLine(step(), (l) => l.replace("--vmid 206", "--vmid pve/206"), "delete"), "delete", /--vmid must be a VMID \(digits\), not 'pve\/206'/],
            [withEditedLine(step(), (l) => l.replace("--timeout 300", "--timeout"), "delete"), "delete", /--timeout needs a value/],
            [withEditedLine(step(), (l) => l.replace("--check", "--dry-run")), "create", /unknown argument '--dry-run'/],
        ];
        for (const [shipped, action, message] of cases) {
            const r = action === "create" ? check(shipped) : reset(shipped);
            assert.equal(r.status, 2, `${message}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^reset-node-via-agent: ${message.source} \\(see the usage at the top of the script\\)$`, "m"));
        }
        assert.deepEqual(host.stubs.calls(), [], "qm is never asked");
    });
});
