"""Name parts for synthetic persons. Combined at random; any match with a real person is chance."""

GIVEN_FEMALE = (
    "Anne Inger Kari Marit Ingrid Liv Eva Berit Astrid Bjørg Hilde Anna Solveig Marianne Randi Ida Nina Maria "
    "Elisabeth Kristin Silje Hanne Tone Camilla Ragnhild Julie Nora Emma Sara Thea Ingeborg Sofie Mari Hege "
    "Tove Linda Gunn Heidi Lene Vigdis Guro Synnøve Aud Oda Frida Maja Tuva Malin Marte"
).split()
GIVEN_MALE = (
    "Jan Per Bjørn Ole Lars Kjell Knut Arne Svein Thomas Hans Geir Tor Morten Terje Odd Erik Martin Andreas "
    "John Anders Rune Trond Harald Tore Jon Stein Olav Espen Gunnar Magnus Sindre Henrik Jonas Kristian Eirik "
    "Even Håkon Sigurd Vegard Øystein Emil Tobias Mathias Sander Aksel Jørgen Ivar Leif"
).split()
GIVEN_IMMIGRANT_FEMALE = "Fatima Amina Agnieszka Maryam Hodan Ewa Aisha Leila Natalia Samira Noor Yasmin".split()
GIVEN_IMMIGRANT_MALE = "Mohammed Ali Piotr Ahmed Omar Tomasz Hassan Abdi Yusuf Marek Tariq Dawit".split()
FAMILY = (
    "Hansen Johansen Olsen Larsen Andersen Pedersen Nilsen Kristiansen Jensen Karlsen Johnsen Pettersen Eriksen "
    "Berg Haugen Hagen Johannessen Andreassen Jacobsen Dahl Jørgensen Halvorsen Henriksen Lund Sørensen Jakobsen "
    "Moen Gundersen Iversen Strand Solberg Svendsen Eide Knutsen Martinsen Paulsen Bakken Kristoffersen Mathisen "
    "Lie Amundsen Nguyen Rasmussen Ahmed Lunde Solheim Berge Moe Nygård Bakke Kristensen Fredriksen Holm Lien "
    "Hauge Christensen Andresen Nielsen Knudsen Evensen Sæther Aas Myhre Hanssen Ali Haugland Thomassen Sandvik"
).split()
FAMILY_IMMIGRANT = "Ahmed Ali Hussain Nowak Kowalski Mohamed Khan Abdi Hassan Wiśniewski Tesfaye Nguyen".split()
