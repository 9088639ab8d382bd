"""Name tables for benchmarks/district2.py, written for it (not taken from merge_engine).

Children's given names are listed by cluster and sex, roughly in order of US popularity
for births 2007-2020 (from memory of the Social Security Administration's published
baby-name rankings; order, not exact counts, is what we rely on: weights are Zipf-like by
rank). Surnames of the "general" cluster and adults' given names come from the 1990 US
Census name files in benchmarks/data/census1990_names.tsv (frequency-weighted). The other
clusters' surname lists are ordered by how common the name is in that community; the
weights are Zipf-like with the exponent chosen so that the head is as concentrated as is
commonly reported (e.g. Nguyen is borne by roughly 35-40% of Vietnamese people, Kim by
about a fifth of Koreans). All of this is approximate and documented in
benchmarks/CORRUPTION.md.
"""

from __future__ import annotations


def _words(text: str) -> tuple[str, ...]:
    return tuple(w.replace("_", " ") for w in text.split())


# --- Children's given names, general US cluster -----------------------------------------
GIRLS = _words("""
Emma Olivia Sophia Isabella Ava Mia Emily Abigail Madison Charlotte Harper Sofia Avery
Elizabeth Amelia Evelyn Ella Chloe Victoria Aubrey Grace Zoey Natalie Addison Lillian
Brooklyn Lily Hannah Layla Scarlett Aria Zoe Samantha Anna Leah Audrey Ellie Allison
Savannah Alexa Claire Nora Skylar Riley Camila Sarah Stella Hazel Aaliyah Gabriella
Penelope Aubree Paisley Kennedy Violet Nevaeh Maya Bella Lucy Madelyn Peyton Kaylee
Arianna Sadie Caroline Serenity Ariana Genesis Autumn Katherine Kylie Mackenzie Naomi
Eleanor Ruby Alyssa Quinn Piper Cora Alexis Taylor Jasmine Faith Madeline Brianna Kayla
Eva Lydia Lauren Jocelyn Mila Alice Julia Reagan Khloe Vivian Isabelle Clara Willow Brooke
Emilia Jordyn Jade Molly Payton Adalynn Rylee Aurora Elena Everly Athena Eliana Isla Ivy
Josephine Kinsley Delilah Mary Hailey Morgan Sydney Gianna Nicole Ashley Luna Makayla
Destiny Sophie Kimberly Andrea Reese Gabrielle Jessica Adeline Trinity Lilly Melanie
Mariah Norah Rachel Daisy Jayla Harmony Mckenzie Alexandra Lilah Brielle Juliana Londyn
Mya Kendall Adalyn Eden Aliyah Kylee Sienna Amaya Teagan Rose Alana Margaret Kate Jennifer
Diana Amy Michelle Ryleigh Lila Elise Juliet Catherine Lyla Jada Isabel Hadley Annabelle
Nova Emery Vanessa Leila Finley Hope Blakely Imani Nia Kennedi Ja'Niyah Mary-Kate
Anna_Grace Makenzie Katelyn Kaitlyn Ashlyn Addyson Mikayla Jazmine Aniyah Zariah Amari
Journee Kamila Laila Giselle Sloane Ember Nyla Sage Daniela Adriana Cecilia Valeria Jordan
Erica Paula Julianna Emilia Tessa Hayden Alaina Ana Lucia Jayleen Raelynn Briella Ryan
Harley Esther Fiona Callie Kenzie Dakota Rebecca Lola Rosalie Talia Gracie Evangeline
Abby Miriam Danielle Adelyn Kiara Tatum Lena Presley Georgia Marley Phoebe Brynlee Kali
Heaven Alivia Camille Lyric Ruth Selena Aspen Amanda Londyn Dahlia Cassidy Angela Annie
Jillian Hanna Lexi Megan Carly Kelsey Shelby Haley Summer Maci Dani Jaelyn Kaydence Mckenna
""")
BOYS = _words("""
Liam Noah William James Oliver Benjamin Elijah Lucas Mason Logan Alexander Ethan Jacob
Michael Daniel Henry Jackson Sebastian Aiden Matthew Samuel David Joseph Carter Owen Wyatt
John Jack Luke Jayden Dylan Grayson Levi Isaac Gabriel Julian Mateo Anthony Jaxon Lincoln
Joshua Christopher Andrew Theodore Caleb Ryan Asher Nathan Thomas Leo Isaiah Charles
Josiah Hudson Christian Hunter Connor Eli Ezra Aaron Landon Adrian Jonathan Nolan
Jeremiah Easton Elias Colton Cameron Carson Robert Angel Maverick Nicholas Dominic Jaxson
Greyson Adam Ian Austin Santiago Jordan Cooper Brayden Roman Evan Ezekiel Xavier Jose
Jace Jameson Leonardo Bryson Axel Everett Parker Kayden Miles Sawyer Jason Declan Weston
Micah Ayden Wesley Luca Vincent Damian Zachary Silas Gavin Chase Kai Emmett Harrison
Nathaniel Kingston Cole Tyler Bennett Bentley Ryker Tristan Brandon Kevin Luis George
Ashton Rowan Braxton Ryder Gael Ivan Diego Maxwell Max Carlos Kaiden Juan Maddox Justin
Waylon Calvin Giovanni Jonah Abel Jayce Jesus Amir King Beau Camden Alex Jasper Malachi
Brody Jude Blake Emmanuel Eric Brooks Elliot Antonio Abraham Timothy Finn Rhett Elliott
Edward August Xander Alan Dean Lorenzo Bryce Karter Victor Milo Miguel Hayden Graham Grant
Zion Tucker Jesse Zayden Joel Richard Patrick Emiliano Avery Nicolas Brantley Dawson Myles
Matteo River Steven Thiago Zane Matias Judah Messiah Jeremy Preston Oscar Kaleb Alejandro
Marcus Mark Peter Maximus Barrett Jax Andres Holden Legend Charlie Knox Kaden Paxton Kyrie
Kyle Griffin Josue Kenneth Beckett Enzo Adriel Arthur Felix Bryan Lukas Paul Brian Colt
Caden Leon Archer Omar Israel Aidan Theo Javier Remington Jaden Bradley Emilio Colin Riley
Cayden Phoenix Clayton Simon Ace Nash Derek Rafael Zander Brady Jorge Jake Louis Damien
Karson Walker Maximiliano Amari Sean Chance Walter Martin Finley Andre Tobias Cash Corbin
Arlo Iker Erick Emerson Gunner Cody Stephen Francisco Killian Dallas Reid Manuel Lane Atlas
Rylan Jensen Ronan Beckham Daxton Anderson Kameron Raymond Orion Cristian Tanner Kyler Jett
Cohen Ricardo Spencer Gideon Fernando Jaiden Titus Travis Bodhi Eduardo Dante Ellis Prince
Kane Luka Kash Hendrix Desmond Donovan Mario Atticus Cruz Garrett Hector Angelo Jeffrey
Edwin Cesar Zayn Devin Conor Warren Odin Jayceon Romeo Julius Jaylen Hayes Kayson Joaquin
Caiden Dakota Major Keegan Sergio Marshall Johnny Kade Edgar Leonel Ismael Marco Tyson Wade
Collin Troy Nasir Conner Adonis Jared Rory Andy Jase Lennox Shane Malik Ari Reed Seth Clark
Erik Lawson Trevor Gage Nico Malakai Quinn Cade Johnathan Sullivan Solomon Cyrus Fabian
Pedro Frank Shawn Malcolm Khalil Nehemiah Dalton Mathias Jay Peyton Winston Kason Zayne
Noel Princeton Matthias Gregory Sterling Dominick Elian Grady Russell Finnegan Ruben Gianni
Porter Kendrick Leland Pablo Allen Hugo Raiden Kolton Remy Ezequiel Damon Emanuel Zaiden
Otto Bowen Marcos Abram Kasen Franklin Royce Jonas Sage Philip Esteban Drake Kashton
Roberto Harvey Alexis Kian Jamison Maximilian Adan Milan Phillip Albert Dax Ronin Kamden
Hank Memphis Oakley Augustus Drew Moises Armani Rhys Benson Jayson Kyson Braylen Corey
Gunnar Omari Alonzo Landen Armando Derrick Dexter Enrique Bruce Nikolai Francis Rocco
Kairo Royal Zachariah Deacon Skyler Alijah Pierce Uriel Ronald Luciano Tate Frederick
Kieran Lawrence Moses Rodrigo Brycen Leonidas Nixon Keith Chandler Case Davis Asa Darius
Isaias Aden Jaime Landyn Raul Niko Trenton Apollo Cairo Izaiah Scott Dorian Julio Wilder
Santino Dustin Donald Raphael Saul Taylor Duke Ryland Tatum Edison Emmitt Cannon Alec Danny
Keaton Roy Conrad Roland Quentin Lewis Samson Brock Kylan Cason Jalen Nikolas Braylon
Kamari Dennis Callum Justice Soren Gerardo Brendan Jamari Kobe Julien Mathew Braden Johan
Marvin Stetson Casey Ty Ariel Tony Callan Cullen Sincere Uriah Dillon Colby Cassius
Quinton Mekhi Reece Alessandro Jerry Mauricio Sam Trey Alberto Gustavo Arturo Fletcher
Marcelo Abdiel Alfredo Chris Wayne D'Andre D'Angelo Ja'Marion De'Shawn Cornelio Dyllan
""")

# --- Other clusters (children) -----------------------------------------------------------
HISPANIC_GIRLS = _words("""
Sofia Valentina Camila Ximena Isabella Valeria Mia Natalia Daniela Victoria Mariana
Gabriela Andrea Fernanda Maria_Fernanda Alondra Genesis Melanie Ashley Jimena Renata
Regina Lucia Paula Emily Guadalupe Yaretzi Abril Jazmin Esmeralda Leslie Kimberly Brenda
Karla Alejandra Adriana Daniela Marisol Araceli Itzel Yesenia Arely Citlali Dulce Evelyn
Maria_Jose Ana_Sofia Maria Ana Luz Rosa Aylin Dayana Nayeli Anahi Mayte Wendy Leilani
Alexa Julieta Elena Catalina Emilia Antonella Cornelia Francisca Luisa Antonia Marcela
""")
HISPANIC_BOYS = _words("""
Santiago Mateo Sebastian Matias Diego Alejandro Jose Juan Luis Carlos Miguel Angel Jesus
Daniel David Emiliano Leonardo Gael Adrian Eduardo Fernando Ricardo Javier Francisco
Antonio Jorge Manuel Alexander Christopher Kevin Bryan Brandon Jonathan Cristian Anthony
Juan_Carlos Jose_Luis Luis_Angel Miguel_Angel Jesus_Manuel Ivan Oscar Hector Rafael Pedro
Roberto Sergio Alberto Mario Erick Edgar Armando Enrique Julio Ruben Raul Ramon Esteban
Emilio Joaquin Thiago Iker Axel Uriel Josue Abraham Cornelio Marcos Gerardo Ignacio
Guillermo Alfredo Rodrigo
""")
VIETNAMESE_GIRLS = _words("""
Linh Ngoc Thao Trang Vy Mai Lan Huong Nhi Thu Hanh Tram Uyen Quynh My Anh Khanh Phuong
Tien Yen Ha Hoa Thanh Nga Diem Giang Kim Loan Tuyet
""")
VIETNAMESE_BOYS = _words("""
Minh Anh Huy Khoa Bao Duy Long Nam Phuc Quang Tuan Vinh Khang Thinh Hieu Hoang Dung Hung
Trung Tri Tam Son Nhan Dat Kiet Loc Thai Viet Cuong Hai
""")
CHINESE_GIRLS = _words("""
Xinyi Yutong Zihan Ruoxi Jiayi Siyu Chenxi Yuxin Yiran Mengyao Shiyu Xiaoxuan Wenjing
Yuqi Jingyi Yunxi Meiling Lingling Huiyan Qiaoyu
""")
CHINESE_BOYS = _words("""
Haoran Yuxuan Jiahao Zimo Yichen Zixuan Yiming Mingyu Kaiwen Wenjie Junjie Zhiyuan Hao
Tianyi Ruixuan Boyang Zhihao Yifan Chenyu Jiaxuan
""")
KOREAN_GIRLS = _words("""
Seoyeon Minseo Jiwoo Yuna Haeun Eunji Jiyoon Seoyun Jisoo Subin Yerin Chaewon Dayeon
Minji Soyeon Hyejin
""")
KOREAN_BOYS = _words("""
Minjun Seojun Jiho Dohyun Jaehyun Hyun Joonho Seungwoo Jiwon Minho Taeyang Jihoon
Yejun Sungmin Donghyun Junseo
""")
SOUTH_ASIAN_GIRLS = _words("""
Ananya Diya Saanvi Aadhya Ishita Priya Riya Anika Isha Kavya Myra Navya Shreya Tanvi Meera
Aanya Sanvi Avni Pari Nitya Aarohi Siya Anvi Harini Keerthana Divya Pooja Simran Jasleen
Harleen Aisha Zara
""")
SOUTH_ASIAN_BOYS = _words("""
Aarav Arjun Vihaan Aditya Rohan Krish Ishaan Reyansh Dev Aryan Sai Rahul Vivaan Ayaan Om
Nikhil Advait Shaurya Kabir Atharv Arnav Pranav Siddharth Karthik Harsh Varun Aman
Gurpreet Harjot Manveer Rayan Zayan
""")
EAST_AFRICAN_ARABIC_GIRLS = _words("""
Fatima Aisha Maryam Hawa Amina Hodan Sahra Nasra Ifrah Ayaan Hafsa Zainab Khadija Layla
Sumaya Najma Ikram Iman Hamdi Deeqa Fardowsa Nimco Sagal Mariam Noor Yasmin Rania Salma
""")
EAST_AFRICAN_ARABIC_BOYS = _words("""
Mohamed Ahmed Abdi Omar Ali Yusuf Ibrahim Hassan Abdirahman Abdullahi Mustafa Khalid
Hamza Bilal Zakaria Ismail Hussein Mahad Abdirizak Bashir Said Adnan Yahya Osman Idris
Mohamud Abdikadir Karim Samir Tariq
""")

# Spellings a teacher may write for the same spoken name (phonetic variants), and
# transliteration variants of Arabic/Somali names. Each tuple is one name.
SPELLING_VARIANTS: tuple[tuple[str, ...], ...] = (
    ("Aidan", "Aiden", "Ayden", "Aden"),
    ("Jayden", "Jaden", "Jaiden", "Jaydon"),
    ("Kayden", "Kaden", "Caden", "Cayden", "Kaiden", "Caiden"),
    ("Brayden", "Braden", "Braeden"),
    ("Kaitlyn", "Katelyn", "Caitlin", "Kaitlin"),
    ("Makayla", "Mikayla", "Michaela", "Mckayla"),
    ("Aubree", "Aubrey", "Aubrie"),
    ("Zoey", "Zoe", "Zoie"),
    ("Madelyn", "Madeline", "Madeleine", "Madilyn"),
    ("Addison", "Addyson", "Addisyn"),
    ("Kylee", "Kylie", "Kyleigh"),
    ("Ashlyn", "Ashlynn", "Ashlynne"),
    ("Jaxon", "Jaxson", "Jackson"),
    ("Greyson", "Grayson"),
    ("Brooklyn", "Brooklynn"),
    ("Adalyn", "Adalynn", "Adelyn", "Adeline"),
    ("Mackenzie", "Mckenzie", "Makenzie", "Kenzie"),
    ("Jasmine", "Jazmine", "Jazmin", "Yasmin"),
    ("Isabelle", "Isabel", "Isobel"),
    ("Sofia", "Sophia"),
    ("Jordyn", "Jordan"),
    ("Payton", "Peyton"),
    ("Riley", "Ryleigh", "Rylee"),
    ("Elliot", "Elliott"),
    ("Jon", "John"),
    ("Steven", "Stephen"),
    ("Nicolas", "Nicholas", "Nickolas"),
    ("Mathew", "Matthew"),
    ("Kamila", "Camila", "Camilla"),
    ("Dyllan", "Dylan", "Dillon"),
    ("Mohamed", "Mohammed", "Muhammad", "Mohammad"),
    ("Mohamud", "Mahmoud", "Mahmood"),
    ("Ahmed", "Ahmad"),
    ("Abdirahman", "Abdurahman", "Abdurrahman"),
    ("Abdullahi", "Abdulahi", "Abdallah"),
    ("Yusuf", "Yousef", "Youssef", "Yosef"),
    ("Hussein", "Hussain", "Husein"),
    ("Aisha", "Ayesha", "Aysha"),
    ("Fatima", "Fatimah", "Fatuma"),
    ("Khadija", "Khadijah"),
    ("Zainab", "Zaynab"),
    ("Sahra", "Sahro", "Zahra"),
    ("Mariam", "Maryam", "Maryan"),
    ("Ismail", "Ismael"),
    ("Zakaria", "Zakariya", "Zachariah"),
    ("Huong", "Hong"),
    ("Thao", "Tao"),
)

# Given-name pairs parents choose for twins (alike names), same sex and mixed.
ALIKE_TWIN_NAMES_SAME: tuple[tuple[str, str, str], ...] = (
    ("M", "Aidan", "Aiden"),
    ("M", "Jaden", "Jayden"),
    ("M", "Kaden", "Kayden"),
    ("M", "Braden", "Brayden"),
    ("M", "Mason", "Jason"),
    ("M", "Jacob", "Joshua"),
    ("M", "Ethan", "Evan"),
    ("F", "Ella", "Emma"),
    ("F", "Madison", "Mackenzie"),
    ("F", "Kaitlyn", "Katelyn"),
    ("F", "Ava", "Eva"),
    ("F", "Hailey", "Haley"),
)
ALIKE_TWIN_NAMES_MIXED: tuple[tuple[str, str], ...] = (  # (boy, girl)
    ("Cornelio", "Cornelia"),
    ("Daniel", "Daniela"),
    ("Gabriel", "Gabriela"),
    ("Julian", "Juliana"),
    ("Adrian", "Adriana"),
    ("Alexander", "Alexandra"),
    ("Paul", "Paula"),
    ("Eric", "Erica"),
    ("Emilio", "Emilia"),
    ("Francisco", "Francisca"),
    ("Luis", "Luisa"),
    ("Antonio", "Antonia"),
    ("Jordan", "Jordyn"),
    ("Ryan", "Riley"),
)

# Names a child goes by at school; keys are legal given names.
NICKNAMES: dict[str, tuple[str, ...]] = {
    "Alexander": ("Alex", "Xander", "Zander"),
    "Benjamin": ("Ben", "Benny", "Benji"),
    "William": ("Will", "Liam", "Billy", "Willie"),
    "James": ("Jimmy", "Jamie", "Jim"),
    "Robert": ("Rob", "Bobby", "Robbie"),
    "Christopher": ("Chris", "Topher"),
    "Michael": ("Mike", "Mikey"),
    "Matthew": ("Matt", "Matty"),
    "Nicholas": ("Nick", "Nico"),
    "Joseph": ("Joe", "Joey"),
    "Daniel": ("Danny", "Dan"),
    "Samuel": ("Sam", "Sammy"),
    "Jonathan": ("Jon", "Johnny"),
    "Anthony": ("Tony", "Ant"),
    "Andrew": ("Drew", "Andy"),
    "Zachary": ("Zach", "Zack"),
    "Nathaniel": ("Nate", "Nathan"),
    "Nathan": ("Nate",),
    "Thomas": ("Tom", "Tommy"),
    "Theodore": ("Teddy", "Theo"),
    "Jacob": ("Jake",),
    "Joshua": ("Josh",),
    "Timothy": ("Tim", "Timmy"),
    "Edward": ("Eddie", "Ed", "Ted"),
    "Richard": ("Rick", "Ricky", "Richie"),
    "Steven": ("Steve",),
    "Stephen": ("Steve",),
    "Kenneth": ("Ken", "Kenny"),
    "Gregory": ("Greg",),
    "Patrick": ("Pat", "Paddy"),
    "Frederick": ("Fred", "Freddie"),
    "Maximilian": ("Max",),
    "Maxwell": ("Max",),
    "Maximus": ("Max",),
    "Elijah": ("Eli",),
    "Ezekiel": ("Zeke",),
    "Dominic": ("Dom",),
    "Sebastian": ("Seb", "Bash"),
    "Lucas": ("Luke",),
    "Harrison": ("Harry",),
    "Henry": ("Hank",),
    "Jackson": ("Jack",),
    "Gabriel": ("Gabe",),
    "Isaac": ("Ike",),
    "Leonardo": ("Leo",),
    "Vincent": ("Vince", "Vinny"),
    "Cameron": ("Cam",),
    "Elizabeth": ("Liz", "Ellie", "Beth", "Lizzie", "Eliza"),
    "Katherine": ("Kate", "Katie"),
    "Catherine": ("Cathy", "Kate", "Cat"),
    "Margaret": ("Maggie", "Meg"),
    "Abigail": ("Abby", "Gail"),
    "Isabella": ("Bella", "Izzy", "Isa"),
    "Isabelle": ("Izzy",),
    "Victoria": ("Tori", "Vicky"),
    "Alexandra": ("Alex", "Lexi", "Alexa"),
    "Samantha": ("Sam", "Sammie"),
    "Gabriella": ("Gabby", "Ella"),
    "Gabrielle": ("Gabby",),
    "Madison": ("Maddie", "Maddy"),
    "Madeline": ("Maddie",),
    "Jessica": ("Jess", "Jessie"),
    "Jennifer": ("Jenny", "Jen"),
    "Natalie": ("Nat", "Talia"),
    "Olivia": ("Liv", "Livvy"),
    "Evelyn": ("Evie",),
    "Charlotte": ("Charlie", "Lottie"),
    "Penelope": ("Penny", "Nell"),
    "Josephine": ("Josie", "Jo"),
    "Eleanor": ("Ellie", "Nora"),
    "Caroline": ("Carrie",),
    "Rebecca": ("Becca", "Becky"),
    "Amanda": ("Mandy",),
    "Kimberly": ("Kim",),
    "Francisco": ("Paco", "Frankie", "Pancho"),
    "Jose": ("Pepe",),
    "Guadalupe": ("Lupe",),
    "Alejandro": ("Alex", "Alejo"),
    "Roberto": ("Beto",),
    "Eduardo": ("Lalo",),
    "Jesus": ("Chuy", "Chucho"),
    "Ignacio": ("Nacho",),
    "Guillermo": ("Memo",),
    "Fernando": ("Nando",),
    "Santiago": ("Santi",),
    "Valentina": ("Vale",),
    "Fernanda": ("Fer",),
    "Daniela": ("Dani",),
    "Mariana": ("Mari",),
    "Alberto": ("Beto",),
    "Mohamed": ("Mo",),
    "Abdirahman": ("Abdi",),
    "Abdullahi": ("Abdi",),
    "Abdirizak": ("Abdi",),
    "Abdikadir": ("Abdi",),
    "Ibrahim": ("Abe",),
}

# English names East Asian children often go by at school (their SIS name is the legal one).
SCHOOL_ENGLISH_NAMES_GIRLS = _words("Amy Jenny Grace Lily Annie Cindy Vivian Tina Joy Emily")
SCHOOL_ENGLISH_NAMES_BOYS = _words("Kevin Eric Jason Tony Andy Leo Ryan Daniel Peter Jimmy")

# Middle names of the general cluster (girls' and boys' favourites beyond the given lists).
MIDDLE_GIRLS = _words("""
Marie Grace Rose Elizabeth Lynn Ann Mae Jane Nicole Louise Kate Faith Hope Renee Michelle
Jean Anne Claire Elise Joy June Paige Danielle Noelle Jade Skye Brooke Rae Lee
""")
MIDDLE_BOYS = _words("""
James Michael Alexander Lee Thomas Joseph Robert William David Ray Allen John Anthony
Christopher Matthew Daniel Edward Scott Ryan Wayne Paul Jacob Cole Blake Reid Dean Jack
""")

# --- Surnames of the non-general clusters ------------------------------------------------
HISPANIC_SURNAMES = _words("""
Garcia Rodriguez Martinez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres Flores
Rivera Gomez Diaz Reyes Morales Cruz Ortiz Gutierrez Chavez Ramos Ruiz Alvarez Mendoza
Castillo Jimenez Moreno Romero Herrera Medina Aguilar Vargas Guzman Mendez Munoz Salazar
Garza Soto Vasquez Alvarado Delgado Pena Contreras Sandoval Guerrero Rios Estrada Ortega
Nunez Maldonado Dominguez Vega Espinoza Rojas Marquez Padilla Mejia Juarez Figueroa Avila
Molina Campos Ayala Carrillo Cabrera Lara Robles Cervantes Solis Salinas Fuentes Velasquez
Aguirre Ochoa Cardenas Calderon Rivas Serrano Rosales Castaneda Gallegos Ibarra Suarez
Orozco Luna Acosta Trevino Pacheco Velazquez Zamora Valdez Barrera Navarro Villarreal
Zuniga Santiago Benitez Mora Escobar Bautista Mata Cortez Arellano Hidalgo Cisneros
Beltran Pineda Trujillo Galvan Lozano Montoya Esparza Meza Villanueva Rangel Duran Cano
Paredes Franco Tapia Miranda Osorio Quintero Santana Leon Valencia Arroyo Bernal Corona
Ponce Macias Nava Barajas Villa Avalos Lucero Ibanez De_la_Cruz De_Leon Del_Rio
""")
# Accented forms the SIS may hold (teachers mostly type them without accents).
ACCENTED = {
    "Munoz": "Muñoz",
    "Pena": "Peña",
    "Nunez": "Núñez",
    "Ibanez": "Ibáñez",
    "Velasquez": "Velásquez",
    "Velazquez": "Velázquez",
    "Gonzalez": "González",
    "Rodriguez": "Rodríguez",
    "Martinez": "Martínez",
    "Hernandez": "Hernández",
    "Lopez": "López",
    "Perez": "Pérez",
    "Sanchez": "Sánchez",
    "Ramirez": "Ramírez",
    "Gomez": "Gómez",
    "Diaz": "Díaz",
    "Gutierrez": "Gutiérrez",
    "Alvarez": "Álvarez",
    "Jimenez": "Jiménez",
    "Mendez": "Méndez",
    "Vasquez": "Vásquez",
    "Dominguez": "Domínguez",
    "Marquez": "Márquez",
    "Juarez": "Juárez",
    "Avila": "Ávila",
    "Cardenas": "Cárdenas",
    "Calderon": "Calderón",
    "Castaneda": "Castañeda",
    "Trevino": "Treviño",
    "Zuniga": "Zúñiga",
    "Benitez": "Benítez",
    "Galvan": "Galván",
    "Duran": "Durán",
    "Leon": "León",
    "Beltran": "Beltrán",
    "Ramon": "Ramón",
    "Jose": "José",
    "Jesus": "Jesús",
    "Maria": "María",
    "Sofia": "Sofía",
    "Lucia": "Lucía",
    "Ruben": "Rubén",
    "Raul": "Raúl",
    "Angel": "Ángel",
    "Adrian": "Adrián",
    "Julian": "Julián",
    "Sebastian": "Sebastián",
    "Matias": "Matías",
    "Joaquin": "Joaquín",
    "Ivan": "Iván",
    "Hector": "Héctor",
    "Oscar": "Óscar",
    "Cesar": "César",
    "Ximena": "Ximena",
    "Valeria": "Valeria",
    "Josue": "Josué",
    "Nayeli": "Nayelí",
    "Anahi": "Anahí",
    "Itzel": "Itzel",
    "Jazmin": "Jazmín",
    "Belen": "Belén",
    "Monica": "Mónica",
    "Veronica": "Verónica",
}
VIETNAMESE_SURNAMES = _words("""
Nguyen Tran Le Pham Hoang Huynh Phan Vu Vo Dang Bui Do Ho Ngo Duong Ly Truong Dinh Lam
Mai Trinh Luong Ha Cao Quach Ta Lu Chau Kieu
""")
CHINESE_SURNAMES = _words("""
Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo Wong
Chan Lee Leung Ng Cheung Lau Yip Chow Lam Tam Cheng Liang Xie Song Tang Deng Han Feng Cao
""")
KOREAN_SURNAMES = _words("""
Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Oh Seo Shin Kwon Hwang Ahn Song Yoo Hong
Chung Jeon Ko Moon Yang Son Bae Baek
""")
SOUTH_ASIAN_SURNAMES = _words("""
Patel Shah Singh Kumar Sharma Gupta Reddy Rao Desai Mehta Joshi Iyer Nair Chowdhury Khan
Ahmed Ali Hussain Das Bhatt Kaur Agarwal Malhotra Kapoor Verma Mishra Pillai Menon Jain
Trivedi Sandhu Gill Dhillon Grewal Chopra Banerjee Mukherjee Bose
""")
# Somali names are patronymic: a child's "surname" is the father's given name.
EAST_AFRICAN_ARABIC_SURNAMES = _words("""
Mohamed Ahmed Ali Hassan Hussein Ibrahim Abdi Omar Osman Yusuf Abdullahi Farah Aden Warsame
Jama Said Mohamud Hersi Nur Abdulle Isse Dahir Haji Elmi Khalil Mahmoud Saleh Haddad
Nasser Abdullah
""")

ADULT_MALE_EXTRA = {
    "hispanic": _words(
        "Jose Juan Luis Carlos Miguel Jesus Francisco Antonio Manuel Pedro "
        "Ramon Javier Roberto Alejandro Fernando Ricardo Raul Sergio"
    ),
    "vietnamese": _words("Tuan Hung Dung Minh Thanh Hai Son Long Quang Vinh Phong Khoa"),
    "chinese": _words("Wei Jian Ming Jun Hao Lei Bin Tao Peng Kevin David Michael"),
    "korean": _words("Sung Young Jae Min Hyun Jin Dong Daniel David John"),
    "south_asian": _words("Rajesh Sanjay Amit Vikram Suresh Ravi Anil Manoj Deepak Sunil"),
    "east_african_arabic": _words("Mohamed Ahmed Abdi Hassan Ali Omar Abdullahi Yusuf Ibrahim"),
}
ADULT_FEMALE_EXTRA = {
    "hispanic": _words(
        "Maria Guadalupe Rosa Ana Veronica Claudia Silvia Leticia Alejandra "
        "Adriana Gabriela Martha Patricia Elizabeth Yolanda Norma"
    ),
    "vietnamese": _words("Lan Huong Mai Thao Hoa Linh Trang Hanh Ngoc Thuy Nga Phuong"),
    "chinese": _words("Li Hua Mei Ying Xiaoli Jing Yan Hong Jennifer Amy Lisa"),
    "korean": _words("Ji Eun Hye Soo Min Young Sun Grace Jenny Esther"),
    "south_asian": _words("Priya Sunita Anjali Deepa Neha Pooja Kavita Rekha Swati Meena"),
    "east_african_arabic": _words("Fatima Amina Hawa Asha Halima Khadra Faduma Sahra Hodan"),
}
STREETS = _words("""
Oak Maple Pine Cedar Elm Washington Lincoln Jefferson Park Lake Hill Main Church Spring
Ridge Walnut Cherry Willow Sunset Highland Meadow Forest River Valley Madison Franklin
Jackson Adams Center Mill Chestnut Hickory Birch Aspen Sycamore Magnolia Dogwood Poplar
Laurel Juniper Prairie Orchard Brookside Fairview Lakeview Hillcrest Woodland Greenwood
""")
STREET_TYPES = (
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Court", "Ct"),
    ("Boulevard", "Blvd"),
    ("Way", "Way"),
)
CITIES = ("Riverton", "Fairmont", "Lakeside", "Cedar Falls", "Millbrook", "Oak Grove")
EMAIL_DOMAINS = (
    ("gmail.com", 0.52),
    ("yahoo.com", 0.16),
    ("hotmail.com", 0.1),
    ("icloud.com", 0.08),
    ("outlook.com", 0.06),
    ("aol.com", 0.03),
    ("comcast.net", 0.03),
    ("att.net", 0.02),
)

# Coined modern names (Braylee, Kaylani, Jaxton...): the long tail of US given names, where
# a quarter or more of children born in the 2010s have a name outside the top 1,000.
COINED_PREFIXES = _words("""
Kay Bray Jay Ja Ka Ma Ry Ni Ar Ad Ash Kam Lan Dae Ze Ty Nev Mal Ri Ez Tre Dar Mi Ky Za Le
Jo Ro Ca Bre Kin Ze Dra Sha Ti Ami Khy Aa Ja'
""")
COINED_SUFFIXES_F = _words("lee lynn leigh lani ana iyah ara ella ina ley nah ria lyn nia sha")
COINED_SUFFIXES_M = _words("den son ton ius iel ell ric van on ari ion tyn dyn zell")
