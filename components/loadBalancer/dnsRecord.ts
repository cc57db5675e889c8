import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, DnsConfig, Topology } from "@ha-control-plane/topology";
import { childOf } from "../childOptions";
import { LocalStep, LocalStepSpec } from "../localStep";
import type { ScriptId } from "../scriptManifest";

export const DNS_SCRIPT = "dns/vip-record.sh" satisfies ScriptId;

/** The record phase 1 adds: the apiserver's name and the VIP. */
export interface VipRecord {
    readonly fqdn: string;
    readonly ip: string;
}

export interface ApiserverDnsRecordArgs {
    /** The DNS server, zone, TSIG key name and algorithm, TTL, and the stale records to remove. */
    readonly dns: DnsConfig;
    readonly record: VipRecord;
    /** The TSIG secret; it reaches the script on stdin only. */
    readonly tsigSecret: pulumi.Output<string>;
}

/** The topology's record: the apiserver's name to the VIP (the phase 1 builder's mapping). */
export function vipRecord(cluster: Pick<Topology["cluster"], "apiserverFqdn" | "vip">): VipRecord {
    return { fqdn: cluster.apiserverFqdn, ip: cluster.vip };
}

function recordArgs(dns: DnsConfig, fqdn: string, ip: string): string[] {
    return [
        "--server", dns.server,
        "--port", String(dns.port),
        "--zone", dns.zone,
        "--name", fqdn,
        "--ip", ip,
        "--ttl", String(dns.ttl),
        "--key-name", dns.tsigKeyName,
        "--key-algorithm", dns.tsigAlgorithm,
    ];
}

/** The record's step: add on create and update, delete on destroy. */
export function recordStep(dns: DnsConfig, fqdn: string, ip: string): LocalStepSpec {
    return { script: DNS_SCRIPT, args: ["add", ...recordArgs(dns, fqdn, ip)], deleteArgs: ["delete", ...recordArgs(dns, fqdn, ip)] };
}

/**
 * A stale record's step: delete on create and update, restore on destroy. The output says
 * whether this stack deleted it (an update carries that over from the previous output); the
 * destroy restores it only then.
 */
export function staleRemovalStep(dns: DnsConfig, fqdn: string, ip: string): LocalStepSpec {
    return { script: DNS_SCRIPT, args: ["delete", ...recordArgs(dns, fqdn, ip)], deleteArgs: ["restore", ...recordArgs(dns, fqdn, ip)], previousOutputFlag: "--previous" };
}

function relativeName(fqdn: string, zone: string): string {
    return fqdn === zone ? "apex" : fqdn.slice(0, -(zone.length + 1)).replace(/\./g, "-");
}

/**
 * Phase 1: `A <apiserverDnsName>.<domain> -> <vip>` through RFC 2136 updates signed with the TSIG
 * key (nsupdate, run where `pulumi up` runs), and each configured stale record (the seed's
 * `kubernetes A 10.0.20.100`) removed. Destroying it deletes exactly the record it added, and
 * puts a stale record back only if this stack was the one that removed it.
 */
export class ApiserverDnsRecord extends pulumi.ComponentResource {
    readonly record: command.local.Command;
    readonly staleRemovals: command.local.Command[];

    constructor(name: string, args: ApiserverDnsRecordArgs, opts?: pulumi.ComponentResourceOptions) {
        const { dns, record } = args;
        super(
            COMPONENT_TYPES.apiserverDnsRecord,
            name,
            { record: `${record.fqdn} A ${record.ip}`, server: `${dns.server}:${dns.port}`, staleRecords: dns.staleRecords.map((s) => `${s.fqdn} A ${s.ip}`) },
            opts,
        );
        // The TSIG secret reaches nsupdate on stdin only (LocalStep: no log, secret outputs).
        this.record = new LocalStep(
            `${name}-a`,
            {
                ...recordStep(dns, record.fqdn, record.ip),
                secretStdin: args.tsigSecret,
                // A new name, address or TTL is a new record: the old one goes first, then the new one.
                triggers: [record.fqdn, record.ip, dns.ttl],
                formerParent: this,
                commandOptions: { deleteBeforeReplace: true },
            },
            childOf(this, opts),
        ).command;

        this.staleRemovals = dns.staleRecords.map(
            (stale) =>
                new LocalStep(
                    `${name}-stale-${relativeName(stale.fqdn, dns.zone)}-${stale.ip}`,
                    { ...staleRemovalStep(dns, stale.fqdn, stale.ip), secretStdin: args.tsigSecret, triggers: [stale.fqdn, stale.ip], formerParent: this },
                    // After the VIP's name exists, so the cluster's name never resolves to nothing.
                    childOf(this, opts, [this.record]),
                ).command,
        );
        this.registerOutputs({ record: this.record.stdout });
    }
}
