"""Networks whose addresses are rented servers, not homes, offices or phones: traffic from them is automated.

geoip2fast bundles MaxMind's GeoLite2 ASN data (autonomous-system names, no "hosting" flag), so this is our
choice of names among its 72,000, exact as it spells them (a unit test checks each is still there). Only
compute-hosting networks are listed. Left out on purpose: CDNs and edge proxies (Cloudflare, Akamai's CDN,
Fastly) because iCloud Private Relay and WARP send real people through them; the networks VPN providers
rent most (M247, Datacamp); and the companies' own office and product networks (plain ``GOOGLE``,
``MICROSOFT-CORP-AS``), whose addresses include Gmail's image proxy and employees. Azure shares
``MICROSOFT-CORP-MSN-AS-BLOCK`` with some Microsoft offices; it is listed because Azure is where most of its
automated traffic comes from.
"""

from __future__ import annotations

HOSTING_NETWORKS = frozenset(
    {
        # Amazon Web Services
        "AMAZON-02",
        "AMAZON-AES",
        "Amazon Data Services Ireland Ltd",
        # Google Cloud
        "GOOGLE-CLOUD-PLATFORM",
        # Microsoft Azure
        "MICROSOFT-CORP-MSN-AS-BLOCK",
        # Oracle Cloud
        "ORACLE-BMC-31898",
        # IBM Cloud
        "SOFTLAYER",
        # Alibaba Cloud, Tencent Cloud, Huawei Cloud
        "Hangzhou Alibaba Advertising Co.,Ltd.",
        "Alibaba US Technology Co., Ltd.",
        "Alibaba Cloud Singapore Private Limited",
        "Shenzhen Tencent Computer Systems Company Limited",
        "Huawei Cloud Service data center",
        "HUAWEI CLOUDS",
        # Virtual and dedicated server providers
        "DIGITALOCEAN-ASN",
        "Akamai Connected Cloud",  # Linode
        "AS-CHOOPA",  # Vultr
        "OVH SAS",
        "Hetzner Online GmbH",
        "Contabo GmbH",
        "Contabo Asia Private Limited",
        "Scaleway S.a.s.",
        "netcup GmbH",
        "IONOS SE",
        "Hostinger International Limited",
        "HOSTWINDS",
        "AS-COLOCROSSING",
        "ASN-QUADRANET-GLOBAL",
        "RACKSPACE",
        "LeaseWeb Netherlands B.V.",
        "Leaseweb Deutschland GmbH",
        "Leaseweb Uk Limited",
        "Leaseweb Asia Pacific pte. ltd.",
        "LEASEWEB-USA-WDC",
        "LEASEWEB-USA-NYC",
        "LEASEWEB-USA-SFO",
        "LEASEWEB-USA-LAX",
        "LEASEWEB-USA-DAL",
        "LEASEWEB-USA-CHI",
        "LEASEWEB-USA-MIA",
        "LEASEWEB-USA-PHX",
        "LEASEWEB-USA-SEA",
    }
)
