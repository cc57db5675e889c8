/**
 * scripts/kubeadm/reset-node.sh (the rollback of a new master, on the node: kubeadm reset, CNI
 * and iptables clean-up) as it reaches the node: ControlPlaneJoin's node-reset step embeds it in
 * reset-node-via-agent.sh, which pipes it into `bash -s -- --node-name NAME` through the guest
 * agent. Here a STAND-IN guest agent (qm) runs what it is piped, against STUB kubeadm, ip,
 * iptables, ip6tables and ipvsadm (tests/kubeadm/helpers/nodeHost.ts): nothing may touch this
 * machine's network or firewall.
 */
import { strict as assert } from "assert";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { nodeResetCommand } from "../../components/kubeadm/controlPlaneJoin";
import type { ShippedCommand } from "../../components/shipped";
import { runShipped } from "../helpers/shipped";
import { guestAgentRules, nodeHost } from "./helpers/nodeHost";
import type { StubRule } from "./helpers/stubs";

describe("reset-node.sh as the rollback ships it (through reset-node-via-agent.sh and a stand-in guest agent; stub kubeadm, ip, iptables)", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env, commands } = host;
    /** The delete of ControlPlaneJoin's node-reset step for k8s-master-3 (VM 206), run on the Proxmox node. */
    const rollback = nodeResetCommand({ pveSshUser: "root", vmId: 206, node: "k8s-master-3", timeoutSeconds: 300 });
    const reset = (e = env()) => runShipped(rollback, e, { action: "delete" });
    const onTheNode = (rules: StubRule[]) => host.stubs.setRules([...guestAgentRules(206), ...rules]);
    const kubeadmReset: StubRule = { bin: "kubeadm", args: "^reset ", run: `rm -rf "$KUBERNETES_DIR"/kubelet.conf "$KUBERNETES_DIR"/manifests "$KUBERNETES_DIR"/pki` };
    const network: StubRule[] = [
        { bin: "ip", args: "^link show cni0$", stdout: "5: cni0: <BROADCAST>\n" },
        { bin: "ip", args: "^link show ", exit: 1 },
        { bin: "ip", args: "^link delete cni0$" },
        { bin: "iptables", args: "" },
        { bin: "ip6tables", args: "" },
        { bin: "ipvsadm", args: "^--clear$" },
    ];
    /** What the node received on stdin: reset-node.sh as shipped. */
    const received = () => readFileSync(path.join(host.stubs.dir, "guest-stdin"), "utf8");

    it("kubeadm reset without touching etcd membership, CNI and iptables clean-up; a re-run only cleans again", () => {
        const cni = path.join(host.root, "cni-net.d");
        const cniState = path.join(host.root, "cni-state");
        for (const d of [cni, cniState]) mkdirSync(d, { recursive: true });
        writeFileSync(path.join(cni, "10-calico.conflist"), "{}");
        mkdirSync(path.join(cniState, "networks"), { recursive: true });
        mkdirSync(path.join(host.k8s, "manifests"), { recursive: true });
        writeFileSync(path.join(host.k8s, "kubelet.conf"), "");
        onTheNode([kubeadmReset, ...network]);
        const e = env({ CNI_CONF_DIR: cni, CNI_STATE_DIR: cniState });
        const r = reset(e);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /^reset-node: kubeadm reset on k8s-master-3$/m);
        assert.match(r.stderr, /^reset-node: k8s-master-3 reset \(kubeadm state, CNI, iptables\)$/m);
        assert.match(r.stderr, /reset-node-via-agent: k8s-master-3 reset through the guest agent/);
        assert.deepEqual(commands("kubeadm"), ["reset -f --skip-phases=remove-etcd-member"]);
        assert.deepEqual(readdirSync(cni), []);
        assert.deepEqual(readdirSync(cniState), []);
        assert.ok(commands("ip").includes("link delete cni0"));
        const ipt = commands("iptables");
        assert.deepEqual(ipt.slice(0, 3), ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"], "policies opened before the flush");
        for (const table of ["filter", "nat", "mangle", "raw"]) assert.ok(ipt.includes(`-t ${table} -F`) && ipt.includes(`-t ${table} -X`), table);
        assert.equal(commands("ip6tables").length, ipt.length);

        host.stubs.clearCalls();
        const again = reset(e);
        assert.equal(again.status, 0, again.stderr);
        assert.deepEqual(commands("kubeadm"), []);
        assert.match(again.stderr, /reset-node: no kubeadm state on k8s-master-3: already reset/);
    });

    it("a failing kubeadm reset: reset-node.sh fails (exit 1, saying so) and the rollback goes on with a warning (the VM is deleted next)", () => {
        writeFileSync(path.join(host.k8s, "admin.conf"), "");
        onTheNode([{ bin: "kubeadm", args: "^reset ", stderr: "[reset] error: unmount failed\n", exit: 1 }, ...network]);
        const r = reset();
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /^reset-node: ERROR: kubeadm reset failed$/m);
        assert.match(r.stderr, /reset-node-via-agent: WARNING: the reset on k8s-master-3 did not complete \(1\); continuing, the VM is deleted next/);
        assert.deepEqual(commands("iptables"), [], "nothing cleaned after the failed reset");
    });

    it("refuses arguments it is not given right with exit 2, before touching the node (the shipped text, run as the guest runs it)", () => {
        onTheNode([kubeadmReset, ...network]);
        assert.equal(reset().status, 0);
        const shipped = received();
        assert.match(shipped, /^set -euo pipefail$/m, "the script itself reached the node");
        /** The text the node received, under `bash -s -- ARGS` as the guest agent runs it. */
        const asTheGuestRunsIt = (args: string): ShippedCommand => ({ create: `bash -s -- ${args}`, stdin: shipped });
        host.stubs.clearCalls();
        writeFileSync(path.join(host.k8s, "kubelet.conf"), "");
        const cases: [string, RegExp][] = [
            ["", /--node-name is required/],
            ["--node-name", /--node-name needs a value/],
            ["--node-name --node-name k8s-master-3", /--node-name needs a value/],
            ["--node k8s-master-3", /unknown argument '--node'/],
        ];
        for (const [args, message] of cases) {
            const r = runShipped(asTheGuestRunsIt(args), env());
            assert.equal(r.status, 2, `${args}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^reset-node: ${message.source} \\(see the usage at the top of the script\\)$`, "m"));
        }
        assert.deepEqual(host.stubs.calls(), [], "nothing run on the node");
    });
});
