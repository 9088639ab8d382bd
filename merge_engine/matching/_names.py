"""Name, street and place pools for :mod:`merge_engine.testing.synthetic`.

Every list is ordered from most to least common, so a rank-based
(Zipf-like) weight gives the frequency skew of real rosters (many
Smiths and Olivias, a long tail of rare names) without storing counts.
Pools are grouped by heritage because a family's first names and
surnames go together (Nguyen with Minh, García with Mateo), which is
what makes same-surname collisions realistic.
"""

from __future__ import annotations

from attrs import frozen

__all__ = [
    "COMMON_NICKNAMES",
    "EMAIL_PROVIDERS",
    "GROUPS",
    "METROS",
    "OTHER_AREA_CODES",
    "SIMILAR_NAME_PAIRS",
    "STATE_NAMES",
    "STREET_DIRECTIONS",
    "STREET_NAMES",
    "STREET_SUFFIXES",
    "Metro",
    "NameGroup",
]


def _split(text: str) -> tuple[str, ...]:
    """Comma-separated names (commas, because surnames such as ``De La Cruz`` hold spaces)."""
    return tuple(word.strip() for word in text.split(",") if word.strip())


@frozen
class NameGroup:
    """Names of one heritage group; ``weight`` is its share of district families."""

    key: str
    weight: float
    child_m: tuple[str, ...]
    child_f: tuple[str, ...]
    adult_m: tuple[str, ...]
    adult_f: tuple[str, ...]
    surnames: tuple[str, ...]
    own_first_rate: float  # children named from the group's pool (else the general US pool)


_US = NameGroup(
    key="us",
    weight=0.55,
    child_m=_split(
        """Liam, Noah, Oliver, James, Elijah, William, Henry, Lucas, Benjamin, Theodore,
        Levi, Jack, Michael, Alexander, Owen, Asher, Samuel, Ethan, Jackson, Mason, Ezra,
        John, Hudson, Aiden, Joseph, David, Jacob, Logan, Luke, Julian, Grayson, Wyatt,
        Matthew, Dylan, Isaac, Elias, Anthony, Thomas, Jayden, Carter, Miles, Christopher,
        Josiah, Charles, Caleb, Andrew, Isaiah, Nathan, Jaxon, Ryan, Lincoln, Aaron,
        Christian, Eli, Jonathan, Landon, Nicholas, Connor, Cameron, Hunter, Jordan, Robert,
        Jeremiah, Easton, Colton, Brayden, Dominic, Austin, Ian, Adam, Xavier, Evan, Kevin,
        Zachary, Tyler, Brandon, Justin, Cooper, Parker, Bentley, Kayden, Aidan, Jaden,
        Declan, Everett, Ryder, Nolan, Tristan, Brody, Chase, Cole, Gavin, Kyle, Patrick,
        Timothy, Marcus, Malik, Darius, Andre, Jamal, DeShawn, Terrell, Elliott, Finn,
        Rowan, Silas, Jasper, Micah, Jace, Zion, Kingston, Damian, Maverick, Brooks,
        Beckett, Ayden, Jaiden, Cayden, Bryson, Kaden, Tucker, Griffin, Nathaniel, Edward,
        Frederick, Raymond, Harrison, Louis, Francis, Abraham, Gregory"""
    ),
    child_f=_split(
        """Olivia, Emma, Charlotte, Amelia, Sophia, Mia, Isabella, Ava, Evelyn, Harper,
        Luna, Eleanor, Elizabeth, Violet, Scarlett, Emily, Hazel, Lily, Aurora, Penelope,
        Aria, Nora, Chloe, Ellie, Mila, Avery, Layla, Abigail, Ella, Isla, Eliana, Nova,
        Madison, Zoe, Ivy, Grace, Lucy, Willow, Emilia, Riley, Naomi, Victoria, Stella,
        Hannah, Maya, Zoey, Delilah, Leah, Lillian, Paisley, Madelyn, Sadie, Sophie,
        Addison, Kinsley, Natalie, Brooklyn, Audrey, Claire, Alice, Katherine, Caroline,
        Samantha, Sarah, Anna, Allison, Kaitlyn, Katelyn, Caitlin, Jessica, Ashley,
        Brianna, Alyssa, Jasmine, Destiny, Aaliyah, Imani, Kayla, Morgan, Taylor,
        Madeline, Julia, Rebecca, Rachel, Megan, Lauren, Nevaeh, Jada, Zoë, Chloé, Renée,
        Mackenzie, Makayla, Kennedy, Peyton, Quinn, Margaret, Josephine, Ruby, Eva, Adeline,
        Molly, Jane, Isabel, Lila, Olive, Jordyn, Kiara, Ariana, Gabrielle, Jacqueline,
        Alexandra, Christina, Catherine, Kathryn, Patricia, Deborah, Susannah, Theresa,
        Evangeline, Cassandra, Daphne, Eloise, Juniper, Sloane, Tatum, Kendall, Reagan"""
    ),
    adult_m=_split(
        """Michael, Christopher, Matthew, Joshua, David, James, Daniel, Robert, John, Joseph,
        Jason, Justin, Andrew, Ryan, William, Brian, Jonathan, Brandon, Nicholas, Anthony,
        Eric, Adam, Kevin, Steven, Thomas, Timothy, Richard, Jeremy, Jeffrey, Kyle, Mark,
        Aaron, Benjamin, Jacob, Scott, Charles, Travis, Dustin, Gregory, Patrick, Derek,
        Marcus, Terrence, Jamal, Darnell, Edward, Donald, Kenneth, Ronald, Gary, Douglas,
        Stephen, Phillip, Nathan, Shawn, Cory, Bradley, Jared, Samuel, Alexander, Peter,
        Theodore, Frederick, Raymond, Lawrence, Jerome, Calvin, Curtis"""
    ),
    adult_f=_split(
        """Jennifer, Jessica, Amanda, Sarah, Melissa, Nicole, Stephanie, Heather, Elizabeth,
        Ashley, Michelle, Amy, Kimberly, Rebecca, Laura, Angela, Lisa, Emily, Rachel,
        Crystal, Tiffany, Christina, Andrea, Erin, Megan, Danielle, Kelly, Katherine,
        Christine, Brittany, Mary, Patricia, Linda, Barbara, Susan, Deborah, Donna, Carol,
        Sandra, Karen, Margaret, Rosemary, Courtney, Lindsey, Kristen, Shannon, Tamika,
        Latoya, Ebony, Keisha, Allison, Victoria, Abigail, Caroline, Alexandra, Samantha,
        Jacqueline, Catherine, Valerie, Monica, Renée, Chloé, Zoë, Theresa, Dorothy,
        Cynthia, Pamela, Jillian"""
    ),
    surnames=_split(
        """Smith, Johnson, Williams, Brown, Jones, Miller, Davis, Wilson, Anderson, Thomas,
        Taylor, Moore, Jackson, Martin, Lee, Thompson, White, Harris, Clark, Lewis,
        Robinson, Walker, Young, Allen, King, Wright, Scott, Hill, Green, Adams, Baker,
        Nelson, Carter, Mitchell, Roberts, Turner, Phillips, Campbell, Parker, Evans,
        Edwards, Collins, Stewart, Morris, Murphy, Cook, Rogers, Morgan, Peterson, Cooper,
        Reed, Bailey, Bell, Kelly, Howard, Ward, Cox, Richardson, Wood, Watson, Brooks,
        Bennett, Gray, James, Hughes, Price, Sanders, Myers, Long, Ross, Foster, Powell,
        Jenkins, Perry, Russell, Sullivan, Fisher, Henderson, Coleman, Simmons, Patterson,
        Jordan, Reynolds, Hamilton, Graham, Wallace, Woods, Cole, West, Owens, Marshall,
        Ellis, Stevens, Murray, Ford, Gibson, Kennedy, Wells, Hayes, Bryant, Griffin,
        Washington, Butler, Barnes, Freeman, Webb, Tucker, Porter, Hunter, Hicks, Crawford,
        Boyd, Mason, Warren, Dixon, Burns, Gordon, Shaw, Holmes, Rice, Hunt, Black, Daniels,
        Palmer, Mills, Grant, Knight, Ferguson, Stone, Hawkins, Dunn, Perkins, Hudson,
        Spencer, Gardner, Stephens, Payne, Pierce, Berry, Matthews, Arnold, Wagner, Willis,
        Ray, Watkins, Olson, Carroll, Duncan, Snyder, Hart, Cunningham, Bradley, Lane,
        Andrews, Harper, Fox, Riley, Armstrong, Carpenter, Weaver, Greene, Lawrence,
        Elliott, Chapman, Johnston, Schmidt, Schneider, Becker, Hoffman, Mueller, Müller,
        Kowalski, Novak, Nowak, Russo, Romano, Rossi, Esposito, Costa, Hansen, Larsen,
        Olsen, Johansson, Bergström, Sørensen, O'Brien, O'Connor, O'Neil, McDonald,
        McCarthy, MacKenzie, McLaughlin, D'Angelo, St. John, Van Dyke, Van Der Berg,
        DuBois, LaFleur, Le Blanc, Fitzgerald, Gallagher, Kaczmarek, Zielinski"""
    ),
    own_first_rate=1.0,
)

_HISPANIC = NameGroup(
    key="hispanic",
    weight=0.27,
    child_m=_split(
        """Mateo, Santiago, Sebastián, Matías, Diego, Leonardo, Alejandro, Daniel, Gael,
        Nicolás, Samuel, Emiliano, Ángel, Adrián, Lucas, Gabriel, Julián, Tomás, David,
        Carlos, Juan, José, Luis, Miguel, Jesús, Antonio, Manuel, Fernando, Javier,
        Eduardo, Andrés, Joaquín, Martín, Iker, Isaac, Rafael, Ricardo, Jorge, Noé, Ramón,
        Héctor, Emmanuel, Axel, Iván, Bruno, Dante, Thiago, Elías, José Luis, Juan Carlos"""
    ),
    child_f=_split(
        """Sofía, Camila, Valentina, Isabella, Valeria, Mariana, Gabriela, Lucía, Daniela,
        Victoria, Ximena, Natalia, Regina, Renata, María, Guadalupe, Fernanda, Jimena,
        Paula, Andrea, Alejandra, Emilia, Zoe, Elena, Luciana, Ana, Julieta, Catalina,
        Sara, Abril, Mía, Paola, Carolina, Adriana, Alondra, Esmeralda, Yesenia, Marisol,
        Itzel, Citlali, Inés, Rocío, Araceli, María José, Ana Sofía, María Fernanda"""
    ),
    adult_m=_split(
        """José, Juan, Luis, Carlos, Jorge, Miguel, Francisco, Antonio, Jesús, Alejandro,
        Manuel, Ricardo, Roberto, Eduardo, Fernando, Javier, Sergio, Raúl, Pedro, Arturo,
        Óscar, Rafael, Mario, Enrique, Héctor, Víctor, Alberto, Rubén, Gerardo, Ramón"""
    ),
    adult_f=_split(
        """María, Guadalupe, Rosa, Ana, Carmen, Verónica, Claudia, Patricia, Adriana,
        Laura, Gabriela, Alejandra, Leticia, Elizabeth, Silvia, Martha, Sandra, Lorena,
        Yolanda, Teresa, Mónica, Araceli, Norma, Maribel, Elena, Sofía, Juana, Margarita,
        Irma, Rocío"""
    ),
    surnames=_split(
        """García, Rodríguez, Martínez, Hernández, López, González, Pérez, Sánchez, Ramírez,
        Torres, Flores, Rivera, Gómez, Díaz, Cruz, Morales, Reyes, Gutiérrez, Ortiz, Ramos,
        Chávez, Ruiz, Mendoza, Álvarez, Castillo, Jiménez, Vásquez, Moreno, Romero,
        Herrera, Medina, Aguilar, Vargas, Guzmán, Muñoz, Castro, Méndez, Salazar, Soto,
        Delgado, Peña, Rojas, Contreras, Nuñez, Guerrero, Ortega, Estrada, Sandoval,
        Cortez, Domínguez, Ibarra, Fuentes, Valdez, Cervantes, Espinoza, Navarro, Acosta,
        Lara, Campos, Rosales, Zamora, Villarreal, Trujillo, Cabrera, Ochoa, Velázquez,
        Montoya, Esparza, Pacheco, Serrano, Luna, Juárez, Mejía, Ayala, Solís, Cordero,
        Figueroa, Carrillo, Maldonado, Santiago, Rosario, Vega, Marín, De La Cruz, De León,
        De Jesús, Del Río, Del Rosario, De La Rosa, San Juan, Ybarra"""
    ),
    own_first_rate=0.7,
)

_EAST_ASIAN = NameGroup(
    key="east_asian",
    weight=0.08,
    child_m=_split(
        """Minh, Huy, Bao, Khoa, Duc, Tuan, Long, Quang, Thanh, Hieu, Jun, Hao, Wei, Jian,
        Jae, Joon, Hyun, Haruto, Ren, Sora, Kenji, Kai"""
    ),
    child_f=_split(
        """Linh, Mai, Lan, Ngoc, Thao, Trang, Vy, Anh, Huong, Mei, Ling, Xin, Yan, Hui,
        Seo-yeon, Ha-eun, Yuna, Hana, Yuki, Sakura, Aiko, Jia"""
    ),
    adult_m=_split(
        """Minh, Tuan, Dung, Hung, Long, Thanh, Wei, Jian, Hao, Jun, Sung, Jin, Young,
        Hiroshi, Takeshi, Kevin, Jason, Eric, Brian, Daniel"""
    ),
    adult_f=_split(
        """Linh, Lan, Hoa, Thuy, Huong, Mai, Mei, Li, Xiu, Yan, Eun, Ji, Min, Yuko,
        Keiko, Jennifer, Michelle, Grace, Vivian, Tiffany"""
    ),
    surnames=_split(
        """Nguyen, Tran, Le, Pham, Hoang, Huynh, Vo, Dang, Bui, Do, Ngo, Duong, Ly, Kim, Lee,
        Park, Choi, Jung, Kang, Cho, Yoon, Jang, Lim, Han, Wang, Li, Zhang, Liu, Chen, Yang,
        Huang, Zhao, Wu, Zhou, Xu, Sun, Ma, Zhu, Hu, Lin, Guo, He, Tanaka, Sato, Suzuki,
        Takahashi, Watanabe, Yamamoto, Nakamura, Kobayashi, Wong, Chan, Chang, Lu, Tang"""
    ),
    own_first_rate=0.45,
)

_SOUTH_ASIAN = NameGroup(
    key="south_asian",
    weight=0.04,
    child_m=_split(
        """Aarav, Vihaan, Arjun, Aditya, Rohan, Ishaan, Krishna, Sai, Reyansh, Ayaan, Dev,
        Kabir, Aryan, Pranav, Nikhil, Veer, Shaurya, Advik"""
    ),
    child_f=_split(
        """Aanya, Ananya, Diya, Saanvi, Aadhya, Isha, Priya, Anika, Riya, Kavya, Meera,
        Shreya, Navya, Myra, Avni, Tara, Ira, Aisha"""
    ),
    adult_m=_split(
        """Rahul, Rohit, Amit, Vikram, Sanjay, Raj, Anil, Suresh, Rajesh, Ravi, Vijay,
        Arun, Deepak, Manish, Sunil, Imran"""
    ),
    adult_f=_split(
        """Priya, Pooja, Neha, Sneha, Divya, Lakshmi, Sunita, Anjali, Deepa, Kavita, Asha,
        Nisha, Swati, Rekha, Shilpa, Farah"""
    ),
    surnames=_split(
        """Patel, Shah, Singh, Kumar, Sharma, Gupta, Desai, Mehta, Reddy, Rao, Joshi, Iyer,
        Nair, Agarwal, Chopra, Kapoor, Malhotra, Bhatt, Chaudhry, Khan, Das, Banerjee,
        Chatterjee, Mukherjee, Pillai, Menon, Verma, Mishra, Rahman, Hussain"""
    ),
    own_first_rate=0.75,
)

_ARABIC = NameGroup(
    key="arabic",
    weight=0.03,
    child_m=_split(
        """Muhammad, Mohammed, Ahmed, Ali, Omar, Yusuf, Ibrahim, Hassan, Adam, Zaid, Amir,
        Hamza, Bilal, Ayman, Karim, Idris"""
    ),
    child_f=_split(
        """Fatima, Aisha, Maryam, Layla, Noor, Zainab, Sara, Amira, Yasmin, Hana, Leila,
        Salma, Mariam, Huda, Lina, Nadia"""
    ),
    adult_m=_split(
        """Mohammed, Ahmed, Ali, Omar, Khalid, Mustafa, Tariq, Samir, Rami, Faris, Hussein,
        Ibrahim, Yousef, Nabil"""
    ),
    adult_f=_split(
        """Fatima, Aisha, Maryam, Rania, Noor, Dina, Reem, Samira, Huda, Layla, Hiba,
        Nadia, Amal, Souad"""
    ),
    surnames=_split(
        """Ali, Ahmed, Mohamed, Hassan, Hussein, Ibrahim, Khalil, Mahmoud, Mansour, Nasser,
        Saleh, Haddad, Khoury, Aziz, Farah, Hamdan, Abdullah, Osman, Yousef, Said, Qureshi,
        Malik, Siddiqui, El-Amin, Al-Hassan, Abu-Bakr, Al Masri"""
    ),
    own_first_rate=0.8,
)

_AFRICAN = NameGroup(
    key="african",
    weight=0.03,
    child_m=_split(
        """Kwame, Kofi, Chidi, Emeka, Oluwaseun, Tunde, Abdi, Yonas, Dawit, Kelechi, Obinna,
        Emmanuel, Samuel, Daniel, Joseph, Moses"""
    ),
    child_f=_split(
        """Amara, Chioma, Ngozi, Adaeze, Ifeoma, Abena, Ama, Fatou, Aminata, Hawa, Hodan,
        Sagal, Selam, Blessing, Precious, Favour"""
    ),
    adult_m=_split(
        """Kwame, Kofi, Chukwuemeka, Olumide, Abdirahman, Mohamed, Tesfaye, Yohannes,
        Ibrahima, Mamadou, Emmanuel, Samuel"""
    ),
    adult_f=_split(
        """Ngozi, Chinwe, Folake, Abena, Aminata, Fatoumata, Hodan, Amina, Tigist, Meron,
        Grace, Mercy"""
    ),
    surnames=_split(
        """Okafor, Okonkwo, Adeyemi, Mensah, Osei, Diallo, Traore, Kamara, Bah, Abdi,
        Mohamud, Tesfaye, Bekele, Haile, Mengistu, Nwosu, Eze, Adebayo, Asante, Owusu,
        Boateng, Ndiaye, Sow, Jallow"""
    ),
    own_first_rate=0.6,
)

GROUPS: tuple[NameGroup, ...] = (_US, _HISPANIC, _EAST_ASIAN, _SOUTH_ASIAN, _ARABIC, _AFRICAN)

# Twin pairs given near-identical names, the hardest case for a matcher.
SIMILAR_NAME_PAIRS: tuple[tuple[str, str, str, str], ...] = (
    ("Aiden", "M", "Aidan", "M"),
    ("Mia", "F", "Maya", "F"),
    ("Jayden", "M", "Jaden", "M"),
    ("Isabel", "F", "Isabella", "F"),
    ("Kaitlyn", "F", "Katelyn", "F"),
    ("Ava", "F", "Eva", "F"),
    ("Lily", "F", "Lila", "F"),
    ("Daniel", "M", "Daniela", "F"),
    ("Gabriel", "M", "Gabriela", "F"),
    ("Adrian", "M", "Adriana", "F"),
    ("Mason", "M", "Madison", "F"),
    ("Jordan", "M", "Jordyn", "F"),
    ("Noah", "M", "Nora", "F"),
    ("Ella", "F", "Emma", "F"),
    ("Ayden", "M", "Jayden", "M"),
    ("Sophia", "F", "Sofia", "F"),
)

# Nicknames everyone knows although they do not share the formal name's start.
COMMON_NICKNAMES = frozenset(
    _split(
        """Bill, Billy, Bob, Bobby, Dick, Rick, Peggy, Polly, Molly, Sally, Patsy, Betty,
        Bess, Jack, Ned, Ted, Teddy, Hank, Chuck, Jim, Jimmy, Tony, Sandy, Liz, Beth,
        Kate, Katie, Kathy, Cathy, Kit, Jenny, Jen, Chris, Nick, Mike, Matt, Dan, Danny,
        Joe, Josh, Sam, Ben, Will, Alex, Andy, Drew, Tom, Tommy, Steve, Greg, Jeff, Tim,
        Pat, Patty, Trish, Vicky, Tori, Abby, Gabby, Maggie, Meg, Theo, Zach, Nate, Eli,
        Becky, Rob, Robbie, Ron, Don, Ken, Larry, Ray, Fred, Ed, Eddie, Frank, Ricky"""
    )
)


@frozen
class Metro:
    """A metro area a district sits in: phones, ZIP codes and towns agree with it."""

    state: str
    area_codes: tuple[str, ...]
    zip_prefixes: tuple[str, ...]
    towns: tuple[str, ...]


METROS: tuple[Metro, ...] = (
    Metro(
        "TX",
        ("713", "281", "832", "346"),
        ("770", "773", "774"),
        _split("Houston, Pasadena, Pearland, Sugar Land, Katy, Baytown, Missouri City"),
    ),
    Metro(
        "CA",
        ("408", "669", "650"),
        ("950", "951"),
        _split("San Jose, Santa Clara, Milpitas, Campbell, Sunnyvale, Cupertino"),
    ),
    Metro(
        "IL",
        ("847", "224", "630", "331"),
        ("600", "601"),
        _split("Evanston, Skokie, Des Plaines, Park Ridge, Niles, Glenview"),
    ),
    Metro(
        "GA",
        ("404", "470", "678", "770"),
        ("300", "303"),
        _split("Decatur, Marietta, Smyrna, Roswell, Atlanta, Dunwoody"),
    ),
    Metro(
        "AZ",
        ("602", "480", "623"),
        ("850", "852", "853"),
        _split("Phoenix, Mesa, Tempe, Chandler, Glendale, Gilbert"),
    ),
    Metro(
        "FL",
        ("305", "786", "954"),
        ("330", "331"),
        _split("Miami, Hialeah, Doral, Homestead, Miami Gardens, Kendall"),
    ),
    Metro(
        "WA",
        ("206", "425", "253"),
        ("980", "981"),
        _split("Seattle, Bellevue, Renton, Kent, Redmond, Kirkland"),
    ),
    Metro(
        "NC",
        ("919", "984"),
        ("275", "276"),
        _split("Raleigh, Cary, Durham, Apex, Garner, Wake Forest"),
    ),
)

# Out-of-metro cell numbers (people keep their old numbers when they move).
OTHER_AREA_CODES: tuple[str, ...] = _split(
    """212, 646, 312, 773, 214, 469, 972, 303, 720, 503, 971, 617, 857, 215, 267, 313,
    248, 612, 651, 704, 980, 713, 408, 602, 305, 206, 404"""
)

STATE_NAMES: dict[str, str] = {
    "TX": "Texas",
    "CA": "California",
    "IL": "Illinois",
    "GA": "Georgia",
    "AZ": "Arizona",
    "FL": "Florida",
    "WA": "Washington",
    "NC": "North Carolina",
}

STREET_NAMES: tuple[str, ...] = _split(
    """Main, Oak, Maple, Cedar, Pine, Elm, Washington, Lincoln, Jefferson, Park, Lake,
    Hill, Sunset, Highland, Church, Spring, Walnut, Willow, Chestnut, Meadow, Forest,
    River, Ridge, Cherry, Jackson, Madison, Franklin, Center, Mill, Magnolia, Dogwood,
    Sycamore, Birch, Aspen, Laurel, Hickory, Juniper, Cypress, Adams, Monroe, Grant,
    Kennedy, Valley, Mountain View, Orchard, Country Club, College, School, Broadway, Bay,
    Harbor, Martin Luther King Jr, Rio Grande, Camino Real, Mesa Verde, Vista, Heritage,
    Liberty, Independence, Prairie, Timber, Stonebridge, Fox Run, Deer Creek, Quail Hollow,
    Windsor, Cambridge, Oxford, Kingston, Bluebonnet, Palmetto, Pecan, Live Oak"""
)

# (full word, USPS abbreviation)
STREET_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Court", "Ct"),
    ("Boulevard", "Blvd"),
    ("Place", "Pl"),
    ("Way", "Way"),
    ("Circle", "Cir"),
    ("Terrace", "Ter"),
    ("Parkway", "Pkwy"),
)

STREET_DIRECTIONS: tuple[tuple[str, str], ...] = (
    ("North", "N"),
    ("South", "S"),
    ("East", "E"),
    ("West", "W"),
)

# (domain, share of personal addresses)
EMAIL_PROVIDERS: tuple[tuple[str, float], ...] = (
    ("gmail.com", 0.52),
    ("yahoo.com", 0.14),
    ("hotmail.com", 0.09),
    ("outlook.com", 0.06),
    ("icloud.com", 0.08),
    ("aol.com", 0.03),
    ("comcast.net", 0.03),
    ("att.net", 0.02),
    ("live.com", 0.03),
)
