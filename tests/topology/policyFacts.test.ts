/**
 * The pure layer's writer/reader pairs the policies rely on: what the program writes into the
 * graph reads back the same, so a policy and the program cannot drift apart.
 */
import { strict as assert } from "assert";
import {
    apiserverPool,
    CONTROL_PLANE_TAINT,
    DEFAULT_HEALTH_CHECK_TIMINGS,
    ejectionBoundMs,
    effectiveTimings,
    endpointFacts,
    findSecretMaterial,
    joinFacts,
    kubeletCutoverFacts,
    pfsenseLoadBalancerState,
    poolServer,
    protectArg,
    readBashPayload,
    readEndpointFacts,
    readEnvFile,
    readJoinFacts,
    readKubeletCutoverFacts,
    readLoadBalancerPayload,
    readProtectArgs,
    readTaintArgs,
    readVmidArgs,
    renderEnvFile,
    renderHaproxyFragment,
    taintArg,
    vmidArg,
} from "@ha-control-plane/topology";
import { bashWithPayload, phpWithState } from "../../components/shipping/payloads";

describe("pure layer: facts the program writes and the policies read", () => {
    it("component facts and command-line flags round-trip; anything else reads as nothing", () => {
        const join = joinFacts({ node: "k8s-master-2", member: 2, of: 3, join: "urn:j", gate: "urn:g", membership: "urn:m" });
        assert.deepEqual(readJoinFacts(JSON.parse(JSON.stringify(join))), { node: "k8s-master-2", member: 2, of: 3, join: "urn:j", gate: "urn:g", membership: "urn:m" });
        assert.equal(readJoinFacts({ ...join, member: "2" }), undefined);
        const cut = kubeletCutoverFacts({ node: "k8s-node1", host: "10.0.20.50", position: 0, flip: "urn:f", ready: "urn:r" });
        assert.equal(readKubeletCutoverFacts(cut)?.position, 0);
        assert.equal(readEndpointFacts(endpointFacts({ vip: "10.0.20.99", port: 6443, master: "k8s-master", masterIp: "10.0.20.100" }))?.vip, "10.0.20.99");
        assert.equal(readEndpointFacts({ vip: "10.0.20.99" }), undefined);
        assert.deepEqual(readVmidArgs(`bash -s -- ${vmidArg(205)} --node-name x`), [205]);
        assert.deepEqual(readTaintArgs(`x ${taintArg(CONTROL_PLANE_TAINT)} --timeout 9`), [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
        assert.deepEqual(readProtectArgs(`remove --node a ${protectArg("k8s-master")} --timeout 1`), ["k8s-master"]);
        assert.deepEqual(readEnvFile(renderEnvFile({ CONTROL_PLANE_MEMBERS: 3, CONTROL_PLANE_QUORUM: 2 })), { CONTROL_PLANE_MEMBERS: "3", CONTROL_PLANE_QUORUM: "2" });
    });

    it("the pool reads back from both load balancer payloads with the program's check and timings", () => {
        const pool = apiserverPool({ vip: "10.0.20.99", apiserverPort: 6443 }, [poolServer({ name: "k8s-master", ip: "10.0.20.100" }, 6443)]);
        const haproxy = readLoadBalancerPayload(bashWithPayload("main \"$@\"", renderHaproxyFragment(pool)))!;
        const state = pfsenseLoadBalancerState(pool, { owner: "o", interface: "auto", prefixLength: 24, memberServers: [], waitUpSeconds: 60 });
        const pfsense = readLoadBalancerPayload(phpWithState("<?php", state))!;
        for (const observed of [haproxy, pfsense]) {
            assert.deepEqual(observed.frontend, { address: "10.0.20.99", port: 6443 });
            assert.equal(observed.check?.kind, "http");
            assert.equal(observed.check?.path, "/readyz");
            assert.equal(observed.check?.expectStatus, 200);
            assert.equal(observed.servers[0].tls, true);
            const t = effectiveTimings(observed, observed.servers[0]);
            assert.equal(ejectionBoundMs({ ...DEFAULT_HEALTH_CHECK_TIMINGS, ...t }), ejectionBoundMs(DEFAULT_HEALTH_CHECK_TIMINGS));
        }
        assert.equal(readBashPayload("no payload here"), undefined);
        assert.equal(readLoadBalancerPayload("echo hi"), undefined);
    });

    it("credential shapes are found where they are, and script text that only names them is not", () => {
        assert.equal(findSecretMaterial("kubeadm join x --token abc123.0123456789abcdef"), "a kubeadm bootstrap token");
        assert.equal(findSecretMaterial(`--certificate-key ${"0f".repeat(32)}`), "a kubeadm certificate key");
        assert.equal(findSecretMaterial("-----BEGIN RSA PRIVATE KEY-----"), "a private key");
        assert.equal(findSecretMaterial("nsupdate -y hmac-sha256:ha-control-plane:c2VjcmV0c2VjcmV0c2VjcmV0"), "a TSIG secret");
        assert.equal(findSecretMaterial('kubeadm join "$endpoint" --token "$KUBEADM_TOKEN" --discovery-token-ca-cert-hash sha256:' + "ab".repeat(32)), undefined);
    });
});
