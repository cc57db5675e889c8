import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, DnsConfig, Topology } from "../../topology";
import { childOf } from "../childOptions";
import { rerunOnUpdate } from "../commandLifecycle";

/** Relative to the project: `pulumi up` runs the program (and local commands) in the project directory. */
export const DNS_SCRIPT = "scripts/dns/vip-record.sh";
/** The engine sets PULUMI_COMMAND_STDOUT to the previous create/update output (empty on create). */
const PREVIOUS_OUTPUT = ' --previous "${PULUMI_COMMAND_STDOUT:-}"';

export interface ApiserverDnsRecordArgs {
    readonly topology: Topology;
    /** The TSIG secret; it reaches the script on stdin only. */
    readonly tsigSecret: pulumi.Output<string>;
}

function recordArgs(dns: DnsConfig, fqdn: string, ip: string): string {
    return [
        "--server", dns.server,
        "--port", String(dns.port),
        "--zone", dns.zone,
        "--name", fqdn,
        "--ip", ip,
        "--ttl", String(dns.ttl),
        "--key-name", dns.tsigKeyName,
        "--key-algorithm", dns.tsigAlgorithm,
    ].join(" ");
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
        const { dns, cluster } = args.topology;
        super(
            COMPONENT_TYPES.apiserverDnsRecord,
            name,
            { record: `${cluster.apiserverFqdn} A ${cluster.vip}`, server: `${dns.server}:${dns.port}`, staleRecords: dns.staleRecords.map((s) => `${s.fqdn} A ${s.ip}`) },
            opts,
        );
        const run = (action: string, fqdn: string, ip: string, extra = "") => `bash ${DNS_SCRIPT} ${action} ${recordArgs(dns, fqdn, ip)}${extra}`;
        // These commands carry the TSIG secret on stdin: they log nothing and keep their output
        // secret (the secrets-stay-secret policy). A failure still fails the up; run
        // scripts/dns/vip-record.sh by hand to see nsupdate's own words.
        const logging = command.types.enums.local.Logging.None;
        const secretOutputs = ["stdout", "stderr"];

        this.record = new command.local.Command(
            `${name}-a`,
            {
                create: run("add", cluster.apiserverFqdn, cluster.vip),
                // An idempotent add: an update re-runs it.
                ...rerunOnUpdate(run("add", cluster.apiserverFqdn, cluster.vip)),
                delete: run("delete", cluster.apiserverFqdn, cluster.vip),
                stdin: args.tsigSecret,
                // A new name, address or TTL is a new record: the old one goes first, then the new one.
                triggers: [cluster.apiserverFqdn, cluster.vip, dns.ttl],
                logging,
            },
            childOf(this, opts, [], { deleteBeforeReplace: true, additionalSecretOutputs: secretOutputs }),
        );

        this.staleRemovals = dns.staleRecords.map(
            (stale) =>
                new command.local.Command(
                    `${name}-stale-${relativeName(stale.fqdn, dns.zone)}-${stale.ip}`,
                    {
                        // The output says whether this stack deleted it (an update carries that
                        // over from the previous output); the destroy restores it only then.
                        create: run("delete", stale.fqdn, stale.ip, PREVIOUS_OUTPUT),
                        ...rerunOnUpdate(run("delete", stale.fqdn, stale.ip, PREVIOUS_OUTPUT)),
                        delete: run("restore", stale.fqdn, stale.ip, PREVIOUS_OUTPUT),
                        stdin: args.tsigSecret,
                        triggers: [stale.fqdn, stale.ip],
                        logging,
                    },
                    // After the VIP's name exists, so the cluster's name never resolves to nothing.
                    { ...childOf(this, opts, [this.record]), additionalSecretOutputs: secretOutputs },
                ),
        );
        this.registerOutputs({ record: this.record.stdout });
    }
}
