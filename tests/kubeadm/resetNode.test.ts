/**
 * scripts/kubeadm/reset-node.sh (the rollback of a new master, on the node: kubeadm reset, CNI
 * and iptables clean-up), with STUB kubeadm, ip, iptables, ip6tables and ipvsadm
 * (tests/kubeadm/helpers/nodeHost.ts): nothing may touch this machine's network or firewall.
 */
import { strict as assert } from "assert";
import { mkdirSync, readdirSync, writeFileSync } from "fs";
import * as path from "path";
import { nodeHost } from "./helpers/nodeHost";
import { runScript } from "./helpers/stubs";

describe("reset-node.sh (rollback, on the node)", function () {
    this.timeout(60_000);
    const host = nodeHost();
    const { env, commands } = host;
    it("kubeadm reset without touching etcd membership, CNI and iptables clean-up; a re-run only cleans again", () => {
        const cni = path.join(host.root, "cni-net.d");
        const cniState = path.join(host.root, "cni-state");
        for (const d of [cni, cniState]) mkdirSync(d, { recursive: true });
        writeFileSync(path.join(cni, "10-calico.conflist"), "{}");
        mkdirSync(path.join(cniState, "networks"), { recursive: true });
        mkdirSync(path.join(host.k8s, "manifests"), { recursive: true });
        writeFileSync(path.join(host.k8s, "kubelet.conf"), "");
        host.stubs.setRules([
            { bin: "kubeadm", args: "^reset ", run: `rm -rf "$KUBERNETES_DIR"/kubelet.conf "$KUBERNETES_DIR"/manifests "$KUBERNETES_DIR"/pki` },
            { bin: "ip", args: "^link show cni0$", stdout: "5: cni0: <BROADCAST>\n" },
            { bin: "ip", args: "^link show ", exit: 1 },
            { bin: "ip", args: "^link delete cni0$" },
            { bin: "iptables", args: "" },
            { bin: "ip6tables", args: "" },
            { bin: "ipvsadm", args: "^--clear$" },
        ]);
        const e = env({ CNI_CONF_DIR: cni, CNI_STATE_DIR: cniState });
        const r = runScript("kubeadm/reset-node.sh", ["--node-name", "k8s-master-3"], e);
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual(commands("kubeadm"), ["reset -f --skip-phases=remove-etcd-member"]);
        assert.deepEqual(readdirSync(cni), []);
        assert.deepEqual(readdirSync(cniState), []);
        assert.ok(commands("ip").includes("link delete cni0"));
        const ipt = commands("iptables");
        assert.deepEqual(ipt.slice(0, 3), ["-P INPUT ACCEPT", "-P FORWARD ACCEPT", "-P OUTPUT ACCEPT"], "policies opened before the flush");
        for (const table of ["filter", "nat", "mangle", "raw"]) assert.ok(ipt.includes(`-t ${table} -F`) && ipt.includes(`-t ${table} -X`), table);
        assert.equal(commands("ip6tables").length, ipt.length);

        host.stubs.clearCalls();
        const again = runScript("kubeadm/reset-node.sh", ["--node-name", "k8s-master-3"], e);
        assert.equal(again.status, 0, again.stderr);
        assert.deepEqual(commands("kubeadm"), []);
        assert.match(again.stderr, /already reset/);
    });
});
