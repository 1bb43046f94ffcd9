// ES module entry: the same objects as the CommonJS entry (index.js).
import netmesh from './index.js';

export const {
  ABI_VERSION, Bus, LibraryVersionError, MeshError, RawEvent, findLibrary, candidatePaths, libraryVersion,
} = netmesh;
export default netmesh;
