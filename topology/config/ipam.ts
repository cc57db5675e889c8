/**
 * Key `ipam`, optional (phase 1.1): the phpIPAM the VIP and the new masters' addresses are
 * registered in. The default {} means no IPAM.
 */
import type { AssertNone, IpamConfig, IpamKind } from "../types";
import { Reader } from "./reader";

export const IPAM_KINDS = ["phpipam"] as const satisfies readonly IpamKind[];
export type EveryIpamKindListed = AssertNone<Exclude<IpamKind, (typeof IPAM_KINDS)[number]>>;

export const IPAM_DEFAULTS = Object.freeze({
    kind: "phpipam" as IpamKind,
    insecure: false,
    timeoutSeconds: 20,
});

/** phpIPAM's app_id column is varchar(32); the GUI takes letters, digits, - and _. */
const APP_ID = /^[A-Za-z0-9_-]{3,32}$/;

export function readIpam(r: Reader, value: unknown): IpamConfig | undefined {
    // Pulumi.yaml's default {} (no IPAM): the CLI needs a default for every declared key.
    if (value === undefined || (typeof value === "object" && value !== null && !Array.isArray(value) && Object.keys(value).length === 0)) return undefined;
    const o = r.object(value, "ipam");
    const kind = r.string(o, "kind", "ipam.kind", IPAM_DEFAULTS.kind);
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
    const insecure = r.boolean(o, "insecure", "ipam.insecure", IPAM_DEFAULTS.insecure);
    if (caFile && insecure) r.fail("ipam.caFile", caFile, "must not be set together with ipam.insecure: true (one or the other)");
    return {
        kind: kind as IpamKind,
        url: url.replace(/\/+$/, ""),
        appId,
        section: r.string(o, "section", "ipam.section"),
        insecure,
        ...(caFile ? { caFile } : {}),
        timeoutSeconds: r.integer(o, "timeoutSeconds", "ipam.timeoutSeconds", 1, 300, IPAM_DEFAULTS.timeoutSeconds),
    };
}
