#!/usr/bin/perl
# SPDX-License-Identifier: ISC
#
# geo_mkdb.pl OUTDIR - write the small GeoIP databases the geo unit tests read, with MaxMind's
# own writer (Debian libmaxmind-db-writer-perl), so the tests read files laid out exactly as
# geoipupdate's GeoLite2 downloads are:
#   geo-city.mmdb  GeoLite2-City schema (nested maps, names.en, subdivisions array), IPv6 tree
#                  with IPv4 inside it
#   geo-asn.mmdb   GeoLite2-ASN schema
#   geo-flat.mmdb  ip-location-db's flat city schema (country_code, state1, city, float
#                  latitude/longitude), an IPv4-only tree
# The addresses are documentation and test ranges; tests/unit/geo.c holds the expectations.
use strict;
use warnings;
use utf8;

use MaxMind::DB::Writer::Tree;

my $out = shift or die "usage: $0 OUTDIR\n";

my %city_types = (
    city                => 'map',
    continent           => 'map',
    country             => 'map',
    registered_country  => 'map',
    location            => 'map',
    subdivisions        => [ 'array', 'map' ],
    names               => 'map',
    en                  => 'utf8_string',
    de                  => 'utf8_string',
    iso_code            => 'utf8_string',
    code                => 'utf8_string',
    geoname_id          => 'uint32',
    latitude            => 'double',
    longitude           => 'double',
    accuracy_radius     => 'uint16',
    time_zone           => 'utf8_string',
);

my %asn_types = (
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);

my %flat_types = (
    country_code => 'utf8_string',
    state1       => 'utf8_string',
    state2       => 'utf8_string',
    city         => 'utf8_string',
    postcode     => 'utf8_string',
    latitude     => 'float',
    longitude    => 'float',
    timezone     => 'utf8_string',
);

sub tree {
    my ( $type, $ipv, $types ) = @_;
    return MaxMind::DB::Writer::Tree->new(
        ip_version               => $ipv,
        record_size              => 24,
        database_type            => $type,
        languages                => ['en'],
        description              => { en => "relaytrap test $type" },
        map_key_type_callback    => sub { $types->{ $_[0] } },
        remove_reserved_networks => 0,
    );
}

sub write_tree {
    my ( $t, $file ) = @_;
    open my $fh, '>:raw', "$out/$file" or die "$out/$file: $!\n";
    $t->write_tree($fh);
    close $fh or die "$out/$file: $!\n";
}

my $gb = { iso_code => 'GB', geoname_id => 2635167, names => { en => 'United Kingdom', de => 'Vereinigtes Königreich' } };

my $city = tree( 'GeoLite2-City', 6, \%city_types );
# a full record: continent, country, one subdivision, city, location
$city->insert_network( '81.2.69.160/27', {
    continent    => { code => 'EU', names => { en => 'Europe' } },
    country      => $gb,
    registered_country => $gb,
    subdivisions => [ { iso_code => 'ENG', names => { en => 'England' } } ],
    city         => { geoname_id => 2643743, names => { en => 'London', de => 'London' } },
    location     => { latitude => 51.5142, longitude => -0.0931, accuracy_radius => 10,
                      time_zone => 'Europe/London' },
} );
# IPv6: two subdivisions, only the first is the region
$city->insert_network( '2001:db8:1::/48', {
    country      => { iso_code => 'DE', names => { en => 'Germany' } },
    subdivisions => [ { iso_code => 'BE', names => { en => 'Land Berlin' } },
                      { iso_code => 'XX', names => { en => 'Second Level' } } ],
    city         => { names => { en => 'Berlin' } },
    location     => { latitude => 52.5244, longitude => 13.4105 },
} );
# only the registered country (as for some anycast and satellite ranges)
$city->insert_network( '203.0.113.0/24', {
    registered_country => { iso_code => 'JP', names => { en => 'Japan' } },
} );
# a country without English names: the name comes from relaytrap's ISO 3166 table
$city->insert_network( '198.51.100.0/25', {
    country => { iso_code => 'FR', names => { de => 'Frankreich' } },
} );
# hostile text: control bytes, a C1 control, an over-long city name of two-byte characters
$city->insert_network( '198.51.100.128/25', {
    country => { iso_code => 'NO', names => { en => "No\x{1b}[31mrway\n" } },
    city    => { names => { en => ( "\x{e9}" x 300 ) } },
    subdivisions => [ { names => { en => "Tab\there\x{85}" } } ],
} );
write_tree( $city, 'geo-city.mmdb' );

my $asn = tree( 'GeoLite2-ASN', 6, \%asn_types );
$asn->insert_network( '81.2.69.0/24',
    { autonomous_system_number => 20712, autonomous_system_organization => 'Andrews & Arnold Ltd' } );
$asn->insert_network( '2001:db8::/32',
    { autonomous_system_number => 64496, autonomous_system_organization => 'Example IPv6 Net' } );
$asn->insert_network( '203.0.113.0/24', { autonomous_system_number => 64511 } );
write_tree( $asn, 'geo-asn.mmdb' );

my $flat = tree( 'city ipv4', 4, \%flat_types );
$flat->insert_network( '192.0.2.0/24', {
    country_code => 'NL', state1 => 'North Holland', state2 => '', city => 'Amsterdam',
    postcode => '1012', latitude => 52.374, longitude => 4.8897, timezone => 'Europe/Amsterdam',
} );
$flat->insert_network( '81.2.69.0/24', {
    country_code => 'GB', state1 => 'England', state2 => '', city => 'Flat London',
    postcode => '', latitude => 51.5, longitude => -0.1, timezone => 'Europe/London',
} );
write_tree( $flat, 'geo-flat.mmdb' );
