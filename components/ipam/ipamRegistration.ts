import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, IpamAddress, IpamConfig, ipamAddresses, ownershipMarker, Topology } from "../../topology";
import { childOf } from "../childOptions";
import { rerunOnUpdate } from "../commandLifecycle";
import { shellQuote } from "../kubeadm/bundle";
import { lbOwner } from "../loadBalancer/shared";

/** Relative to the project: `pulumi up` runs local commands in the project directory. */
export const IPAM_SCRIPT = "scripts/ipam/phpipam-address.sh";

export interface IpamRegistrationArgs {
    readonly topology: Topology;
    readonly ipam: IpamConfig;
    /** The phpIPAM app code token; it reaches the script on stdin only. */
    readonly token: pulumi.Output<string>;
}

/** The script's command line for one address (the token is not on it). */
export function ipamCommandLine(action: "add" | "delete", ipam: IpamConfig, address: IpamAddress, marker: string): string {
    return [
        "bash", IPAM_SCRIPT, action,
        "--url", shellQuote(ipam.url),
        "--app-id", shellQuote(ipam.appId),
        "--section", shellQuote(ipam.section),
        "--ip", address.ip,
        "--hostname", address.hostname,
        "--description", shellQuote(address.description),
        "--marker", shellQuote(marker),
        "--timeout", String(ipam.timeoutSeconds),
        ...(ipam.insecure ? ["--insecure"] : []),
        ...(ipam.caFile ? ["--ca-file", shellQuote(ipam.caFile)] : []),
    ].join(" ");
}

/**
 * Phase 1.1: the VIP and each new master's address recorded in phpIPAM under `ipam.section`,
 * one command per address, run where `pulumi up` runs (curl and jq). Adding is idempotent and
 * corrects a record of ours that drifted; a record that is not ours is refused, never adopted.
 * Destroying removes exactly the records this stack owns (their description carries its marker).
 */
export class IpamRegistration extends pulumi.ComponentResource {
    readonly addresses: command.local.Command[];

    constructor(name: string, args: IpamRegistrationArgs, opts?: pulumi.ComponentResourceOptions) {
        const { topology, ipam } = args;
        const marker = ownershipMarker(lbOwner(topology));
        const addresses = ipamAddresses(topology.cluster, topology.newMasters, marker);
        super(COMPONENT_TYPES.ipamRegistration, name, { ipam: `${ipam.kind} ${ipam.url} (${ipam.section})`, addresses: addresses.map((a) => `${a.ip} ${a.hostname}`) }, opts);
        this.addresses = addresses.map(
            (address) =>
                new command.local.Command(
                    `${name}-${address.key}`,
                    {
                        create: ipamCommandLine("add", ipam, address, marker),
                        // An idempotent add: an update re-runs it.
                        ...rerunOnUpdate(ipamCommandLine("add", ipam, address, marker)),
                        delete: ipamCommandLine("delete", ipam, address, marker),
                        stdin: args.token,
                        // Another address, phpIPAM or section is another record: the old one goes first.
                        triggers: [address.ip, ipam.url, ipam.appId, ipam.section],
                        // The token is on stdin: log nothing, keep the outputs secret (secrets-stay-secret).
                        logging: command.types.enums.local.Logging.None,
                    },
                    childOf(this, opts, [], { deleteBeforeReplace: true, additionalSecretOutputs: ["stdout", "stderr"] }),
                ),
        );
        this.registerOutputs({ registered: addresses.map((a) => a.ip) });
    }
}
