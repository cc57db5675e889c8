/** Key `cluster`: the cluster network, its VIP and the apiserver's name and port. */
import { inSubnet, isIPv4, isNetworkOrBroadcast, parseCidr, parseRange, vipConflicts } from "../ip";
import type { ClusterConfig } from "../types";
import { DNS_LABEL, DNS_NAME, Reader } from "./reader";

/** dnsServers defaults to the gateway. */
export const CLUSTER_DEFAULTS = Object.freeze({
    apiserverPort: 6443,
    apiserverDnsName: "k8s-apiserver",
});

export function readCluster(r: Reader, value: unknown): ClusterConfig {
    const c = r.object(value, "cluster");
    const domain = r.string(c, "domain", "cluster.domain").toLowerCase();
    if (domain && !DNS_NAME.test(domain)) r.fail("cluster.domain", c.domain, "must be a DNS name such as lab.example");
    const subnet = r.string(c, "subnet", "cluster.subnet");
    const cidr = subnet ? parseCidr(subnet) : undefined;
    if (subnet && !cidr) r.fail("cluster.subnet", c.subnet, "must be an IPv4 CIDR such as 10.0.20.0/24");
    const gateway = r.ipv4(c, "gateway", "cluster.gateway");
    const vip = r.ipv4(c, "vip", "cluster.vip");
    const apiserverPort = r.integer(c, "apiserverPort", "cluster.apiserverPort", 1, 65535, CLUSTER_DEFAULTS.apiserverPort);
    const apiserverDnsName = r.string(c, "apiserverDnsName", "cluster.apiserverDnsName", CLUSTER_DEFAULTS.apiserverDnsName).toLowerCase();
    if (apiserverDnsName && !DNS_LABEL.test(apiserverDnsName)) {
        r.fail("cluster.apiserverDnsName", c.apiserverDnsName, "must be one DNS label (letters, digits, hyphens); the domain is appended");
    }
    const poolRaw = r.string(c, "metallbPool", "cluster.metallbPool");
    const metallbPool = poolRaw ? parseRange(poolRaw) : undefined;
    if (poolRaw && !metallbPool) {
        r.fail("cluster.metallbPool", c.metallbPool, "must be FIRST-LAST (ascending IPv4 addresses) or a CIDR");
    }
    const dnsServersRaw = c.dnsServers === undefined ? [gateway] : r.array(c.dnsServers, "cluster.dnsServers");
    const dnsServers = dnsServersRaw.map((s, i) => {
        if (typeof s === "string" && isIPv4(s)) return s;
        r.fail(`cluster.dnsServers[${i}]`, s, "must be an IPv4 address");
        return "";
    });

    if (cidr) {
        for (const [key, ip] of [["cluster.gateway", gateway], ["cluster.vip", vip]] as const) {
            if (ip && !inSubnet(ip, subnet)) r.fail(key, ip, `must be inside cluster.subnet ${subnet}`);
            else if (ip && isNetworkOrBroadcast(ip, subnet)) r.fail(key, ip, `must not be the network or broadcast address of ${subnet}`);
        }
    }
    // The same rule as the vip-conflicts policy (topology/ip.ts), reported against the config keys.
    if (vip && gateway && vipConflicts(vip, { gateway }).length > 0) r.fail("cluster.vip", vip, "must differ from cluster.gateway");
    if (vip && metallbPool && vipConflicts(vip, { metallbPool }).length > 0) {
        r.fail("cluster.vip", vip, `must not be inside cluster.metallbPool ${metallbPool.first}-${metallbPool.last}: MetalLB could hand it to a Service`);
    }
    return {
        domain,
        subnet,
        prefixLength: cidr ? cidr[1] : 0,
        gateway,
        vip,
        apiserverPort,
        apiserverDnsName,
        apiserverFqdn: `${apiserverDnsName}.${domain}`,
        metallbPool: metallbPool ?? { first: "", last: "" },
        dnsServers,
    };
}
