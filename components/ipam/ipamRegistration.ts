import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { COMPONENT_TYPES, IpamAddress, IpamConfig, ipamAddresses, ownershipMarker, Topology } from "@ha-control-plane/topology";
import { childOf } from "../childOptions";
import { LocalStep, LocalStepSpec } from "../localStep";
import { lbOwner } from "../loadBalancer/shared";
import type { ScriptId } from "../scriptManifest";

export const IPAM_SCRIPT = "ipam/phpipam-address.sh" satisfies ScriptId;

export interface IpamRegistrationArgs {
    /** phpIPAM: URL, app id, section, timeout, TLS settings. */
    readonly ipam: IpamConfig;
    /** The addresses to record (the VIP and each new master), their descriptions carrying the marker. */
    readonly addresses: readonly IpamAddress[];
    /** The ownership marker in a record's description: what the stack may correct and delete. */
    readonly marker: string;
    /** The phpIPAM app code token; it reaches the script on stdin only. */
    readonly token: pulumi.Output<string>;
}

/** The topology's addresses and marker (the phase 1 builder's mapping). */
export function ipamRegistrationInputs(topology: Topology): Pick<IpamRegistrationArgs, "addresses" | "marker"> {
    const marker = ownershipMarker(lbOwner(topology));
    return { addresses: ipamAddresses(topology.cluster, topology.newMasters, marker), marker };
}

/** The script's arguments for one address (the token is not among them). */
function ipamArgs(action: "add" | "delete", ipam: IpamConfig, address: IpamAddress, marker: string): string[] {
    return [
        action,
        "--url", ipam.url,
        "--app-id", ipam.appId,
        "--section", ipam.section,
        "--ip", address.ip,
        "--hostname", address.hostname,
        "--description", address.description,
        "--marker", marker,
        "--timeout", String(ipam.timeoutSeconds),
        ...(ipam.insecure ? ["--insecure"] : []),
        ...(ipam.caFile ? ["--ca-file", ipam.caFile] : []),
    ];
}

/** One address's step: add on create and update, delete on destroy. */
export function ipamStep(ipam: IpamConfig, address: IpamAddress, marker: string): LocalStepSpec {
    return { script: IPAM_SCRIPT, args: ipamArgs("add", ipam, address, marker), deleteArgs: ipamArgs("delete", ipam, address, marker) };
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
        const { ipam, addresses, marker } = args;
        super(COMPONENT_TYPES.ipamRegistration, name, { ipam: `${ipam.kind} ${ipam.url} (${ipam.section})`, addresses: addresses.map((a) => `${a.ip} ${a.hostname}`) }, opts);
        this.addresses = addresses.map(
            (address) =>
                new LocalStep(
                    `${name}-${address.key}`,
                    {
                        ...ipamStep(ipam, address, marker),
                        // The token reaches the script on stdin only (LocalStep: no log, secret outputs).
                        secretStdin: args.token,
                        // Another address, phpIPAM or section is another record: the old one goes first.
                        triggers: [address.ip, ipam.url, ipam.appId, ipam.section],
                        formerParent: this,
                        commandOptions: { deleteBeforeReplace: true },
                    },
                    childOf(this, opts),
                ).command,
        );
        this.registerOutputs({ registered: addresses.map((a) => a.ip) });
    }
}
