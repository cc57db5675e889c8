/**
 * How the config areas read the raw config: typed values, each broken rule recorded with its key
 * instead of thrown, and the checks more than one area makes.
 */
import { isIPv4 } from "../ip";
import { phaseIndex } from "../phases";
import type { ConfigIssue, PhaseId } from "../types";

/** A config object as Pulumi hands it over (an object key, or a list item). */
export type ConfigObject = Record<string, unknown>;

/**
 * Reads typed values from the raw config and records every broken rule instead of stopping at
 * the first, so one run shows the user the whole list.
 */
export class Reader {
    readonly issues: ConfigIssue[] = [];

    fail(key: string, value: unknown, rule: string): void {
        this.issues.push({ key, value, rule });
    }

    object(value: unknown, key: string): ConfigObject {
        if (value !== null && typeof value === "object" && !Array.isArray(value)) return value as ConfigObject;
        this.fail(key, value, "must be an object");
        return {};
    }

    array(value: unknown, key: string): unknown[] {
        if (Array.isArray(value)) return value;
        this.fail(key, value, "must be a list");
        return [];
    }

    string(obj: ConfigObject, field: string, key: string, fallback?: string): string {
        const value = obj[field] ?? fallback;
        if (typeof value === "string" && value.trim() !== "") return value.trim();
        this.fail(key, value, "must be a non-empty string");
        return "";
    }

    optionalString(obj: ConfigObject, field: string, key: string): string | undefined {
        return obj[field] === undefined ? undefined : this.string(obj, field, key);
    }

    boolean(obj: ConfigObject, field: string, key: string, fallback: boolean): boolean {
        const value = obj[field] ?? fallback;
        if (typeof value === "boolean") return value;
        if (value === "true" || value === "false") return value === "true";
        this.fail(key, value, "must be true or false");
        return fallback;
    }

    /** Integers may arrive as strings from `pulumi config set`; both are accepted. */
    integer(obj: ConfigObject, field: string, key: string, min: number, max: number, fallback?: number): number {
        const raw = obj[field] ?? fallback;
        const value = typeof raw === "string" && /^-?\d+$/.test(raw.trim()) ? Number(raw) : raw;
        if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= max) return value;
        this.fail(key, raw, `must be a whole number from ${min} to ${max}`);
        return Number.NaN;
    }

    number(obj: ConfigObject, field: string, key: string, min: number, fallback?: number): number {
        const raw = obj[field] ?? fallback;
        const value = typeof raw === "string" && raw.trim() !== "" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
        if (typeof value === "number" && Number.isFinite(value) && value >= min) return value;
        this.fail(key, raw, `must be a number of at least ${min}`);
        return Number.NaN;
    }

    ipv4(obj: ConfigObject, field: string, key: string): string {
        const value = obj[field];
        if (typeof value === "string" && isIPv4(value.trim())) return value.trim();
        this.fail(key, value, "must be an IPv4 address in dotted decimal (a.b.c.d)");
        return "";
    }

    secretPresent(obj: ConfigObject, field: string, key: string): void {
        const value = obj[field];
        if (typeof value !== "string" || value === "") {
            // Never echo a secret's value, even a malformed one.
            this.fail(key, value === undefined ? undefined : "[secret]", `must be set, as a secret: pulumi config set --secret --path ${key} <value>`);
        }
    }
}

export const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
export const DNS_NAME = /^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** An optional object key: undefined when absent, else the object (or a recorded issue). */
export function optionalObject(r: Reader, value: unknown, key: string): ConfigObject | undefined {
    return value === undefined ? undefined : r.object(value, key);
}

/** Whether a stack at `target` registers `phase` (and so needs its config). */
export function reached(target: PhaseId | undefined, phase: PhaseId): boolean {
    return target !== undefined && phaseIndex(target) >= phaseIndex(phase);
}
