/** Key `dns`: the RFC 2136 server and zone the VIP's name is registered in, and the records it replaces. */
import type { AssertNone, ClusterConfig, DnsConfig, StaleDnsRecord, TsigAlgorithm } from "../types";
import { DNS_NAME, Reader } from "./reader";

export const TSIG_ALGORITHMS = ["hmac-sha256", "hmac-sha512", "hmac-sha384", "hmac-sha224", "hmac-sha1", "hmac-md5"] as const satisfies readonly TsigAlgorithm[];
export type EveryTsigAlgorithmListed = AssertNone<Exclude<TsigAlgorithm, (typeof TSIG_ALGORITHMS)[number]>>;

export const DNS_DEFAULTS = Object.freeze({
    port: 53,
    tsigAlgorithm: "hmac-sha256" as TsigAlgorithm,
    ttl: 300,
});

export function readDns(r: Reader, value: unknown, cluster: ClusterConfig): DnsConfig {
    const d = r.object(value, "dns");
    r.secretPresent(d, "tsigSecret", "dns.tsigSecret");
    const zone = r.string(d, "zone", "dns.zone").toLowerCase().replace(/\.$/, "");
    if (zone && !DNS_NAME.test(zone)) r.fail("dns.zone", d.zone, "must be a DNS name such as lab.example");
    // The VIP's name must live in the zone the updates go to, or the server refuses them (NOTZONE).
    if (zone && cluster.domain && cluster.apiserverDnsName && !inZone(cluster.apiserverFqdn, zone)) {
        r.fail("dns.zone", d.zone, `must contain the VIP's name ${cluster.apiserverFqdn} (cluster.apiserverDnsName + cluster.domain)`);
    }
    const algorithm = r.string(d, "tsigAlgorithm", "dns.tsigAlgorithm", DNS_DEFAULTS.tsigAlgorithm).toLowerCase();
    if (algorithm && !(TSIG_ALGORITHMS as readonly string[]).includes(algorithm)) {
        r.fail("dns.tsigAlgorithm", d.tsigAlgorithm, `must be one of ${TSIG_ALGORITHMS.join(", ")}`);
    }
    const keyName = r.string(d, "tsigKeyName", "dns.tsigKeyName");
    if (keyName && !DNS_NAME.test(keyName.toLowerCase().replace(/\.$/, ""))) {
        r.fail("dns.tsigKeyName", d.tsigKeyName, "must be a key name as the DNS server knows it (a DNS name, such as ha-control-plane)");
    }
    const staleRecords = r.array(d.staleRecords ?? [], "dns.staleRecords").map((v, i): StaleDnsRecord => {
        const key = `dns.staleRecords[${i}]`;
        const o = r.object(v, key);
        const name = r.string(o, "name", `${key}.name`).toLowerCase().replace(/\.$/, "");
        // A bare label is in the zone; a dotted name must end with it.
        const fqdn = name.includes(".") ? name : `${name}.${zone}`;
        if (name && (!DNS_NAME.test(fqdn) || (zone && !inZone(fqdn, zone)))) {
            r.fail(`${key}.name`, o.name, `must be a name in the zone ${zone}: a label such as kubernetes, or a full name ending in .${zone}`);
        } else if (fqdn === cluster.apiserverFqdn) {
            r.fail(`${key}.name`, o.name, "must differ from the VIP's own name");
        }
        return { fqdn, ip: r.ipv4(o, "ip", `${key}.ip`) };
    });
    return {
        server: r.string(d, "server", "dns.server"),
        port: r.integer(d, "port", "dns.port", 1, 65535, DNS_DEFAULTS.port),
        zone,
        tsigKeyName: keyName,
        tsigAlgorithm: algorithm as TsigAlgorithm,
        ttl: r.integer(d, "ttl", "dns.ttl", 1, 86400, DNS_DEFAULTS.ttl),
        staleRecords,
    };
}

function inZone(fqdn: string, zone: string): boolean {
    return fqdn === zone || fqdn.endsWith(`.${zone}`);
}
