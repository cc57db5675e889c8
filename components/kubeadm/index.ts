export * from "./bundle";
export * from "./controlPlaneJoin";
export * from "./retrofit";
