/**
 * scripts/kubeadm/reset-node-via-agent.sh (the rollback's last step, on the Proxmox node: pipes
 * reset-node.sh into the VM through the guest agent), with a STUB qm
 * (tests/kubeadm/helpers/nodeHost.ts).
 */
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import * as path from "path";
import { nodeResetCommand } from "../../components/kubeadm/controlPlaneJoin";
import { scriptText } from "../../components/scriptFile";
import { runShipped } from "../helpers/shipped";
import { nodeHost } from "./helpers/nodeHost";
import { runScript } from "./helpers/stubs";

describe("reset-node-via-agent.sh (rollback, on the Proxmox node)", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env, commands } = host;
    const received = () => path.join(host.stubs.dir, "guest-stdin");
    const qm = (status: string, agent: number, guestExit = 0) => [
        status === "missing" ? { bin: "qm", args: "^status 206$", stderr: "Configuration file 'nodes/pve/qemu-server/206.conf' does not exist\n", exit: 2 } : { bin: "qm", args: "^status 206$", stdout: `status: ${status}\n` },
        { bin: "qm", args: "^agent 206 ping$", exit: agent },
        { bin: "qm", args: "^guest exec 206 ", run: `cat >"$STUB_DIR/guest-stdin"; printf '{ "exitcode" : ${guestExit}, "exited" : 1, "out-data" : "reset-node: k8s-master-3 reset\\\\n" }\\n'` },
    ];

    it("pipes reset-node.sh into the VM through the guest agent (as bundled by the program)", () => {
        host.stubs.setRules(qm("running", 0));
        // The rollback's last step: the delete of ControlPlaneJoin's node-reset, on the Proxmox node.
        const r = runShipped(nodeResetCommand({ pveSshUser: "root", vmId: 206, node: "k8s-master-3", timeoutSeconds: 300 }), env(), { action: "delete" });
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(commands("qm"), ["status 206", "agent 206 ping", "guest exec 206 --timeout 300 --pass-stdin 1 -- bash -s -- --node-name k8s-master-3"]);
        assert.equal(readFileSync(received(), "utf8"), `${scriptText("kubeadm/reset-node.sh")}`);
        assert.match(r.stderr, /k8s-master-3 reset through the guest agent/);
    });

    it("tolerates a missing VM, a stopped VM, a silent agent and a failed reset (exit 0, with a warning)", () => {
        const cases: [ReturnType<typeof qm>, RegExp][] = [
            [qm("missing", 0), /VM 206 does not exist: nothing to reset/],
            [qm("stopped", 0), /VM 206 is not running/],
            [qm("running", 1), /WARNING: the guest agent of VM 206 does not answer: k8s-master-3 is unreachable/],
            [qm("running", 0, 1), /WARNING: the reset on k8s-master-3 did not complete \(1\)/],
        ];
        for (const [rules, message] of cases) {
            host.stubs.setRules(rules);
            const r = runScript("kubeadm/reset-node-via-agent.sh", ["--vmid", "206", "--node-name", "k8s-master-3"], env());
            assert.equal(r.status, 0, r.stderr);
            assert.match(r.stderr, message);
        }
        host.stubs.setRules(qm("running", 0));
        const check = runScript("kubeadm/reset-node-via-agent.sh", ["--check", "--vmid", "206", "--node-name", "k8s-master-3"], env());
        assert.equal(check.status, 0);
        assert.ok(!commands("qm").some((c) => c.startsWith("guest exec")), "--check never resets");
    });
});
