/**
 * Phase 1.1's IPAM registration (seed: "phpIPAM: register 10.0.20.99 under section K8s
 * cluster"): the VIP and the new masters' addresses, recorded in phpIPAM through its REST API by
 * scripts/ipam/phpipam-address.sh. Config key `ipam`, optional; validated here with the rest.
 */
import type { ClusterConfig, MasterSpec, Reader } from "./config";

export const IPAM_KINDS = ["phpipam"] as const;
export type IpamKind = (typeof IPAM_KINDS)[number];

export interface IpamConfig {
    readonly kind: IpamKind;
    /** phpIPAM's base URL without a trailing slash; the API is <url>/api/<appId>/. */
    readonly url: string;
    /** The API app (Administration > API) with security "SSL with App code token"; its code is `ipam.token`. */
    readonly appId: string;
    /** The section whose subnets hold the addresses (the seed's "K8s cluster"). */
    readonly section: string;
    /** Skip TLS verification of phpIPAM's certificate. */
    readonly insecure: boolean;
    /** A CA bundle phpIPAM's certificate chains to (a path where `pulumi up` runs). */
    readonly caFile?: string;
    /** Bound on each API request. */
    readonly timeoutSeconds: number;
}

/** An address this stack registers, and what it says about it. */
export interface IpamAddress {
    /** A short name for the resource (vip, or the master's name). */
    readonly key: string;
    readonly ip: string;
    readonly hostname: string;
    readonly description: string;
}

/** The VIP and every new master's address, with the owner's marker in each description. */
export function ipamAddresses(cluster: ClusterConfig, newMasters: readonly MasterSpec[], marker: string): IpamAddress[] {
    return [
        { key: "vip", ip: cluster.vip, hostname: cluster.apiserverFqdn, description: `Kubernetes apiserver VIP ${marker}` },
        ...newMasters.map((m) => ({ key: m.name, ip: m.ip, hostname: `${m.name}.${cluster.domain}`, description: `Kubernetes control-plane node ${m.name} ${marker}` })),
    ];
}

/** phpIPAM's app_id column is varchar(32); the GUI takes letters, digits, - and _. */
const APP_ID = /^[A-Za-z0-9_-]{3,32}$/;

export function readIpam(r: Reader, value: unknown): IpamConfig | undefined {
    // Pulumi.yaml's default {} (no IPAM): the CLI needs a default for every declared key.
    if (value === undefined || (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0)) return undefined;
    const o = r.object(value, "ipam");
    const kind = r.string(o, "kind", "ipam.kind", "phpipam");
    if (kind && !(IPAM_KINDS as readonly string[]).includes(kind)) r.fail("ipam.kind", o.kind, `must be one of ${IPAM_KINDS.join(", ")}`);
    const url = r.string(o, "url", "ipam.url");
    try {
        if (url && new URL(url).protocol !== "https:") throw new Error("not https");
    } catch {
        r.fail("ipam.url", o.url, "must be an https:// URL of phpIPAM, such as https://ipam.lab/ (an app code token is only accepted over TLS)");
    }
    const appId = r.string(o, "appId", "ipam.appId");
    if (appId && !APP_ID.test(appId)) r.fail("ipam.appId", o.appId, "must be the API app id of Administration > API: 3 to 32 letters, digits, - or _");
    r.secretPresent(o, "token", "ipam.token");
    const caFile = r.optionalString(o, "caFile", "ipam.caFile");
    const insecure = r.boolean(o, "insecure", "ipam.insecure", false);
    if (caFile && insecure) r.fail("ipam.caFile", caFile, "must not be set together with ipam.insecure: true (one or the other)");
    return {
        kind: kind as IpamKind,
        url: url.replace(/\/+$/, ""),
        appId,
        section: r.string(o, "section", "ipam.section"),
        insecure,
        ...(caFile ? { caFile } : {}),
        timeoutSeconds: r.integer(o, "timeoutSeconds", "ipam.timeoutSeconds", 1, 300, 20),
    };
}
