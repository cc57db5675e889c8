/** Key `workers`: the worker nodes, for the kubelet cut-over to the VIP. */
import type { WorkerSpec } from "../types";
import { DNS_LABEL, Reader } from "./reader";

export function readWorker(r: Reader, value: unknown, i: number): WorkerSpec {
    const key = `workers[${i}]`;
    const w = r.object(value, key);
    const name = r.string(w, "name", `${key}.name`);
    if (name && !DNS_LABEL.test(name)) r.fail(`${key}.name`, name, "must be a lowercase DNS label");
    return w.ip === undefined ? { name } : { name, ip: r.ipv4(w, "ip", `${key}.ip`) };
}
