/* The page's server-rendered Copy buttons (<button data-copy-from="ID">) copy the genotype line they sit beside. */
import { bindCopyButtons } from "./export.js";

bindCopyButtons(document);
