/** Key `cutover` (phase 4): the pace of the kubelet cut-over, and the consumers left to flip by hand. */
import type { CutoverConfig, ExternalConsumer } from "../types";
import { optionalObject, Reader } from "./reader";

export const CUTOVER_DEFAULTS = Object.freeze({
    nodeReadyTimeoutSeconds: 300,
    settleSeconds: 15,
    externalConsumers: Object.freeze([] as ExternalConsumer[]),
});

export function readCutover(r: Reader, value: unknown): CutoverConfig {
    const c = optionalObject(r, value, "cutover") ?? {};
    const consumers = r.array(c.externalConsumers ?? CUTOVER_DEFAULTS.externalConsumers, "cutover.externalConsumers").map((v, i): ExternalConsumer => {
        const key = `cutover.externalConsumers[${i}]`;
        const o = r.object(v, key);
        const note = r.optionalString(o, "note", `${key}.note`);
        return { name: r.string(o, "name", `${key}.name`), location: r.string(o, "location", `${key}.location`), ...(note ? { note } : {}) };
    });
    return {
        nodeReadyTimeoutSeconds: r.integer(c, "nodeReadyTimeoutSeconds", "cutover.nodeReadyTimeoutSeconds", 30, 3600, CUTOVER_DEFAULTS.nodeReadyTimeoutSeconds),
        settleSeconds: r.integer(c, "settleSeconds", "cutover.settleSeconds", 0, 600, CUTOVER_DEFAULTS.settleSeconds),
        externalConsumers: consumers,
    };
}
