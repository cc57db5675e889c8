import { strict as assert } from "assert";
import {
    apiserverPool,
    BASH_PAYLOAD_DELIMITER,
    ConfigError,
    DEFAULT_HEALTH_CHECK_TIMINGS,
    ejectionBoundMs,
    KUBEADM_DOCS_HEALTH_CHECK_TIMINGS,
    loadTopology,
    pfsenseLoadBalancerState,
    pfsenseMemberState,
    poolServer,
    readPhpState,
    renderHaproxyFragment,
    renderHaproxyServerLine,
    Topology,
} from "@ha-control-plane/topology";
import { bashWithPayload, phpWithState } from "../../components/shipping/payloads";
import { labConfig } from "../helpers/program";
import { readProjectFile } from "../../components/projectFiles";

const lab = (edit?: (raw: Record<string, any>) => void): Topology => {
    const stack = labConfig("1", edit as never);
    return loadTopology(stack.raw, { project: stack.project, stack: stack.stack, readProjectFile });
};
const issuesOf = (edit: (raw: Record<string, any>) => void): string => {
    try {
        lab(edit);
    } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.message;
    }
    assert.fail("expected a ConfigError");
};

describe("load balancer model (pure)", () => {
    const pool = apiserverPool({ vip: "10.0.20.99", apiserverPort: 6443 }, [poolServer({ name: "k8s-master", ip: "10.0.20.100" }, 6443)]);

    it("checks HTTPS GET /readyz expecting 200, without TLS verification, and redispatches retries", () => {
        const text = renderHaproxyFragment(pool);
        for (const line of [
            "frontend apiserver_proxy_6443",
            "    bind 10.0.20.99:6443",
            "    mode tcp",
            "    default_backend apiserver_nodes",
            "backend apiserver_nodes",
            "    balance roundrobin",
            "    option httpchk GET /readyz",
            "    http-check expect status 200",
            "    retries 3",
            "    option redispatch 1",
            "    timeout connect 1000",
            "    timeout check 1000",
            "    server k8s-master 10.0.20.100:6443 check check-ssl verify none inter 1000 fastinter 250 downinter 1000 fall 3 rise 2",
        ]) {
            assert.ok(text.split("\n").includes(line), `missing: ${line}\n${text}`);
        }
        assert.doesNotMatch(text, /\sssl(\s|$)/, "traffic is never re-encrypted: TLS passes through to the apiserver");
        assert.ok(text.trimEnd().endsWith(renderHaproxyServerLine(pool, pool.backend.servers[0])), "the backend is the last section");
    });

    it("ejects an unready backend at least twice as fast as the kubeadm docs' timings", () => {
        assert.equal(ejectionBoundMs(DEFAULT_HEALTH_CHECK_TIMINGS), 1500);
        assert.equal(ejectionBoundMs(KUBEADM_DOCS_HEALTH_CHECK_TIMINGS), 6000);
        assert.ok(ejectionBoundMs(KUBEADM_DOCS_HEALTH_CHECK_TIMINGS) >= 2 * ejectionBoundMs(DEFAULT_HEALTH_CHECK_TIMINGS));
    });

    it("renders the pfSense document with the HAProxy package's field names", () => {
        const state = pfsenseLoadBalancerState(pool, { owner: "ha-control-plane/lab", interface: "auto", prefixLength: 24, memberServers: ["k8s-master-2"], waitUpSeconds: 60 });
        assert.equal(state.pool.check_type, "HTTP");
        assert.equal(state.pool.httpcheck_method, "GET");
        assert.equal(state.pool.monitor_uri, "/readyz");
        assert.equal(state.pool.checkinter, "1000");
        assert.match(state.pool.advanced_backend, /^# \[managed by ha-control-plane\/lab\]/);
        assert.deepEqual(state.servers, [{ name: "k8s-master", address: "10.0.20.100", port: "6443", status: "active", checkssl: "yes", weight: "1" }]);
        assert.ok(!("ssl" in state.servers[0]) && !("sslserververify" in state.servers[0]));
        assert.equal(state.frontend.type, "tcp");
        assert.deepEqual(state.frontend.a_extaddr.item, [{ extaddr: "custom", extaddr_custom: "10.0.20.99", extaddr_port: "6443" }]);
        assert.deepEqual(state.vip, { mode: "ipalias", interface: "auto", type: "single", subnet: "10.0.20.99", subnet_bits: "24", descr: "Kubernetes apiserver VIP [managed by ha-control-plane/lab]" });
        assert.equal(state.runtimeBackend, "apiserver_nodes_ipvANY");
        const member = pfsenseMemberState(pool, poolServer({ name: "k8s-master-2", ip: "10.0.20.110" }, 6443), { owner: "ha-control-plane/lab", waitUpSeconds: 60 });
        assert.equal(member.server.address, "10.0.20.110");
        assert.equal(member.marker, state.marker);
    });

    it("ships payloads in front of scripts and reads them back", () => {
        const state = { schema: "x", list: ["a", "b"], nested: { JSON: "HA_CONTROL_PLANE_STATE_JSON" } };
        assert.deepEqual(readPhpState(phpWithState("<?php echo 1;\n", state)), state);
        assert.match(bashWithPayload("echo hi\n", "line 1\nline 2\n"), /^HA_PAYLOAD=\$\(cat <<'HA_CONTROL_PLANE_PAYLOAD'\nline 1\nline 2\nHA_CONTROL_PLANE_PAYLOAD\n\)\necho hi\n$/);
        assert.throws(() => bashWithPayload("", `a\n${BASH_PAYLOAD_DELIMITER}\nb`));
    });
});

describe("load balancer and DNS config", () => {
    it("defaults: interface auto, the benchmarked timings, DNS port 53, TTL 300, stale records as FQDNs", () => {
        const t = lab();
        assert.equal(t.loadBalancer.interface, "auto");
        assert.deepEqual(t.loadBalancer.healthCheck, DEFAULT_HEALTH_CHECK_TIMINGS);
        assert.equal(t.loadBalancer.waitUpSeconds, 60);
        assert.equal(t.dns.port, 53);
        assert.equal(t.dns.ttl, 300);
        assert.equal(t.dns.tsigAlgorithm, "hmac-sha256");
        assert.deepEqual(t.dns.staleRecords, [{ fqdn: "kubernetes.viktorbarzin.lan", ip: "10.0.20.100" }]);
        assert.equal(lab((raw) => (raw.loadBalancer.healthCheck = { intervalMs: 2000, fall: "2" })).loadBalancer.healthCheck.fall, 2);
    });

    it("names the key, the value and the rule of a bad value", () => {
        assert.match(issuesOf((raw) => (raw.loadBalancer.healthCheck = { intervalMs: 500, fastIntervalMs: 800 })), /loadBalancer\.healthCheck\.fastIntervalMs = 800: must not exceed intervalMs \(500\)/);
        assert.match(issuesOf((raw) => (raw.loadBalancer.healthCheck = { fall: 0 })), /loadBalancer\.healthCheck\.fall = 0: must be a whole number from 1 to 10/);
        assert.match(issuesOf((raw) => (raw.loadBalancer.interface = "igb1.20")), /loadBalancer\.interface = "igb1\.20": must be a pfSense interface id/);
        assert.match(issuesOf((raw) => (raw.dns.zone = "example.org")), /dns\.zone = "example\.org": must contain the VIP's name k8s-apiserver\.viktorbarzin\.lan/);
        assert.match(issuesOf((raw) => (raw.dns.staleRecords = [{ name: "kubernetes.example.org", ip: "10.0.20.100" }])), /dns\.staleRecords\[0\]\.name = "kubernetes\.example\.org": must be a name in the zone/);
        assert.match(issuesOf((raw) => (raw.dns.staleRecords = [{ name: "k8s-apiserver", ip: "10.0.20.100" }])), /dns\.staleRecords\[0\]\.name = "k8s-apiserver": must differ from the VIP's own name/);
        assert.match(issuesOf((raw) => (raw.dns.staleRecords = [{ name: "kubernetes", ip: "10.0.20" }])), /dns\.staleRecords\[0\]\.ip = "10\.0\.20"/);
        assert.match(issuesOf((raw) => (raw.dns.tsigAlgorithm = "hmac-sha3")), /dns\.tsigAlgorithm = "hmac-sha3": must be one of hmac-sha256/);
        assert.match(issuesOf((raw) => (raw.dns.port = 0)), /dns\.port = 0: must be a whole number from 1 to 65535/);
    });
});
