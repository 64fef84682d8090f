"""Label importers, one module per family of formats. Each reads files (never the store, except the formats that
derive labels from data already in it) and returns :class:`~chainrisk.labels.model.ParsedSource` objects.

========================  ==================================================================  =====================
format                    input                                                               default source
========================  ==================================================================  =====================
csv                       generic ``address,category,label,source[,confidence][,chain]``      the ``source`` column
list                      one address per line (``--category`` required)                      file name stem
ofac-xml                  OFAC ``sdn_advanced.xml``                                          ofac-sdn
ofac-csv                  OFAC legacy ``SDN.CSV`` (addresses inside Remarks)                   ofac-sdn-legacy
tagpack                   GraphSense TagPack YAML                                             tagpack:<file stem>
blacklist-events          issuer freeze events already ingested into the store               onchain-blacklist
tether-csv                Dune export of USDT ``AddedBlackList`` events                        tether-usdt-blacklist
mew-darklist              MyEtherWallet ``addresses-darklist.json``                           mew-darklist
scamsniffer               ScamSniffer ``address.json`` / ``combined.json``                      scamsniffer
cryptoscamdb              CryptoScamDB addresses CSV                                          cryptoscamdb
etherscan                 Etherscan label-cloud export (accounts or exchange label)           etherscan:<stem>
etherscan-tokens          Etherscan token label export                                        etherscan:<stem>
spellbook                 Dune Spellbook label tables (cex, stablecoins, rwa, ofac, bridges)  spellbook:<stem>
bundled                   chainrisk's own registry in ``datasets/labels`` + token registry    chainrisk:<stem>
========================  ==================================================================  =====================
"""

from __future__ import annotations

from .common import Importer, Options, conf, finish, one_source

__all__ = ["FORMAT_NAMES", "NO_PATHS", "Importer", "Options", "conf", "finish", "formats", "one_source"]


def formats() -> dict[str, Importer]:
    from . import blacklist, bundled, community, etherscan, generic, ofac, spellbook, tagpack

    return {
        "csv": generic.import_csv,
        "list": generic.import_list,
        "ofac-xml": ofac.import_xml,
        "ofac-csv": ofac.import_legacy_csv,
        "tagpack": tagpack.import_tagpack,
        "blacklist-events": blacklist.import_events,
        "tether-csv": blacklist.import_tether_csv,
        "mew-darklist": community.import_mew,
        "scamsniffer": community.import_scamsniffer,
        "cryptoscamdb": community.import_cryptoscamdb,
        "etherscan": etherscan.import_accounts,
        "etherscan-tokens": etherscan.import_tokens,
        "spellbook": spellbook.import_spellbook,
        "bundled": bundled.import_bundled,
    }


FORMAT_NAMES = ("csv", "list", "ofac-xml", "ofac-csv", "tagpack", "blacklist-events", "tether-csv", "mew-darklist",
                "scamsniffer", "cryptoscamdb", "etherscan", "etherscan-tokens", "spellbook", "bundled")
# Formats that read no files (their data is in the store or shipped with chainrisk).
NO_PATHS = frozenset({"blacklist-events", "bundled"})
