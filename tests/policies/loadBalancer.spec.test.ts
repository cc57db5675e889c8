import { strict as assert } from "assert";
import { apiserverHealthCheck } from "../../policies/loadBalancer";
import {
    apiserverPool,
    COMPONENT_TYPES as T,
    KUBEADM_DOCS_HEALTH_CHECK_TIMINGS,
    pfsenseLoadBalancerState,
    pfsenseMemberState,
    poolServer,
    renderHaproxyFragment,
    renderHaproxyServerLine,
} from "@ha-control-plane/topology";
import { bashWithPayload, phpWithState } from "../../components/shipping/payloads";
import { RecordedResource } from "../../tools/recorder";
import { cachedLab, recordLab } from "../helpers/program";
import { component, resource, violationsOf } from "../helpers/policy";

const CMD = "command:remote:Command";
const cluster = { vip: "10.0.20.99", apiserverPort: 6443 };
const existing = poolServer({ name: "k8s-master", ip: "10.0.20.100" }, 6443);
const second = poolServer({ name: "k8s-master-2", ip: "10.0.20.110" }, 6443);
const pool = apiserverPool(cluster, [existing]);
const owner = { owner: "ha-control-plane/spec" };

/** The pfSense state document of phase 1, as the program ships it; `edit` changes one field. */
function pfsenseState(edit: (state: Record<string, any>) => void = () => undefined): Record<string, any> {
    const state = JSON.parse(JSON.stringify(pfsenseLoadBalancerState(pool, { ...owner, interface: "auto", prefixLength: 24, memberServers: ["k8s-master-2"], waitUpSeconds: 60 })));
    edit(state);
    return state;
}

/** An LB command under its component, shipping `stdin`. */
function lbCommand(stdin: string, type: string = T.apiserverLoadBalancer): RecordedResource[] {
    const parent = component(type, "apiserver-lb");
    return [parent, resource(CMD, "apiserver-lb-apply", { create: "php -- apply", stdin }, { parent: parent.urn })];
}

const pfsense = (edit?: (state: Record<string, any>) => void) => lbCommand(phpWithState("<?php /* reconcile */", pfsenseState(edit)));
const haproxy = (fragment: string) => lbCommand(bashWithPayload("main \"$@\"", fragment));

describe("policy apiserver-health-check", () => {
    it("is a mandatory stack policy with a configurable detection bound (2000 ms by default)", () => {
        assert.equal(apiserverHealthCheck.enforcementLevel, "mandatory");
        assert.equal(apiserverHealthCheck.configSchema?.properties.maxDetectionMs.default, 2000);
    });

    describe("pfSense (the state document haproxy-reconcile.php applies)", () => {
        it("passes the program's pool: HTTPS GET /readyz, 200, ejection within 1500 ms", async () => {
            assert.deepEqual(await violationsOf(apiserverHealthCheck, pfsense()), []);
        });

        it("refuses a TCP check (check_type Basic)", async () => {
            const [v] = await violationsOf(apiserverHealthCheck, pfsense((s) => (s.pool.check_type = "Basic")));
            assert.equal(v.enforcementLevel, "mandatory");
            assert.match(v.message, /uses a TCP connect check: it only sees that the port answers.*Check HTTPS GET \/readyz/);
        });

        it("refuses /healthz, deprecated since 1.16", async () => {
            const [v] = await violationsOf(apiserverHealthCheck, pfsense((s) => (s.pool.monitor_uri = "/healthz")));
            assert.match(v.message, /checks \/healthz, deprecated since Kubernetes 1\.16/);
        });

        it("refuses /livez (alive is not ready)", async () => {
            const [v] = await violationsOf(apiserverHealthCheck, pfsense((s) => (s.pool.monitor_uri = "/livez")));
            assert.match(v.message, /checks \/livez, not \/readyz/);
        });

        it("refuses a check that is not over TLS (checkssl off)", async () => {
            const [v] = await violationsOf(apiserverHealthCheck, pfsense((s) => (s.servers[0].checkssl = "")));
            assert.match(v.message, /k8s-master is checked over plain HTTP: the apiserver port speaks only TLS/);
        });

        it("refuses detection slower than the bound: kubeadm's documented timings take up to 6000 ms", async () => {
            const slow = lbCommand(phpWithState("<?php", JSON.parse(JSON.stringify(pfsenseLoadBalancerState(apiserverPool(cluster, [existing], { healthCheck: KUBEADM_DOCS_HEALTH_CHECK_TIMINGS }), { ...owner, interface: "auto", prefixLength: 24, memberServers: [], waitUpSeconds: 60 })))));
            const [v] = await violationsOf(apiserverHealthCheck, slow);
            assert.match(v.message, /up to 6000 ms \(inter 2000 \+ \(fall 3 - 1\) x fastinter 2000\), slower than the bound of 2000 ms/);
            assert.deepEqual(await violationsOf(apiserverHealthCheck, slow, { "apiserver-health-check": { maxDetectionMs: 6000 } }), [], "the bound is config");
        });

        it("checks a member's entry: over TLS", async () => {
            const member = (checkssl: string) => {
                const state = JSON.parse(JSON.stringify(pfsenseMemberState(pool, second, { ...owner, waitUpSeconds: 60 })));
                state.server.checkssl = checkssl;
                return lbCommand(phpWithState("<?php", state), T.apiserverPoolMember);
            };
            assert.deepEqual(await violationsOf(apiserverHealthCheck, member("yes")), []);
            const [v] = await violationsOf(apiserverHealthCheck, member(""));
            assert.match(v.message, /k8s-master-2 is checked over plain HTTP/);
        });
    });

    describe("plain HAProxy (the haproxy.cfg fragment)", () => {
        const fragment = renderHaproxyFragment(pool);

        it("passes the program's fragment", async () => {
            assert.deepEqual(await violationsOf(apiserverHealthCheck, haproxy(fragment)), []);
        });

        it("refuses a fragment without option httpchk (a TCP check)", async () => {
            const [v] = await violationsOf(apiserverHealthCheck, haproxy(fragment.replace(/ {4}option httpchk .*\n/, "")));
            assert.match(v.message, /uses a TCP connect check/);
        });

        it("refuses a server line without `check`", async () => {
            const [v] = await violationsOf(apiserverHealthCheck, haproxy(fragment.replace(" check check-ssl", " check-ssl")));
            assert.match(v.message, /server k8s-master \(10\.0\.20\.100:6443\) is not health-checked/);
        });

        it("refuses a member line with slow timings", async () => {
            const line = renderHaproxyServerLine(pool, second).replace("inter 1000 fastinter 250", "inter 3000 fastinter 3000");
            const [v] = await violationsOf(apiserverHealthCheck, lbCommand(bashWithPayload("main", line), T.apiserverPoolMember));
            assert.match(v.message, /k8s-master-2: an unready apiserver stays in the pool up to 9000 ms/);
        });

        it("refuses a payload it cannot read", async () => {
            const [v] = await violationsOf(apiserverHealthCheck, lbCommand("echo configure something else"));
            assert.match(v.message, /holds no pool this policy can read/);
        });
    });

    describe("on the lab's recorded graph", () => {
        it("passes with pfSense (phases 1 to 3: the pool and both members' entries)", async () => {
            assert.deepEqual(await violationsOf(apiserverHealthCheck, (await cachedLab("3")).resources), []);
        });

        it("passes with plain HAProxy, and refuses the lab with kubeadm's documented timings", async () => {
            const plain = await recordLab("3", (raw) => {
                raw.loadBalancer = { ...(raw.loadBalancer as object), kind: "haproxy", user: "root" };
            });
            assert.deepEqual(await violationsOf(apiserverHealthCheck, plain.resources), []);
            const slow = await recordLab("1", (raw) => {
                raw.loadBalancer = { ...(raw.loadBalancer as object), healthCheck: { intervalMs: 2000, fastIntervalMs: 2000, downIntervalMs: 2000, timeoutMs: 10000 } };
                // Slower ejection needs a longer apiserver shutdown delay, or the config refuses it first.
                const flags = raw.controlPlaneFlags as Record<string, unknown>;
                raw.controlPlaneFlags = { ...flags, apiserverShutdown: { ...(flags.apiserverShutdown as object), delaySeconds: 17 } };
            });
            const [v, ...rest] = await violationsOf(apiserverHealthCheck, slow.resources);
            assert.equal(rest.length, 0);
            assert.match(v.message, /^apiserver-lb-pfsense: apiserver pool server k8s-master: an unready apiserver stays in the pool up to 6000 ms/);
        });
    });
});
